import type { Chart, ChartEdge, ChartNode } from './machine-graph.js';

const COLUMN_WIDTH = 300;
const ROW_HEIGHT = 84;
const NODE_WIDTH = 170;
const NODE_HEIGHT = 40;
const MARGIN = 30;

interface Placed extends ChartNode {
  x: number;
  y: number;
}

/**
 * Draws a chart as inline SVG: states in columns by their distance from the initial state
 * (breadth-first over the transitions), transitions as curves with their event names. Each
 * state carries `data-state="<path>"` so the page can highlight an actor's current state.
 */
export function renderChartSvg(chart: Chart): string {
  const placed = layout(chart);
  // Room on the right for the labels of edges that bend out of the last column.
  const width = Math.max(...placed.map((node) => node.x), 0) + NODE_WIDTH + MARGIN * 2 + 240;
  const height = Math.max(...placed.map((node) => node.y), 0) + NODE_HEIGHT + MARGIN * 2 + 40;
  const byPath = new Map(placed.map((node) => [node.path, node]));
  const edges = mergeParallel(chart.edges)
    .map((edge, index) => drawEdge(edge, byPath, index))
    .join('');
  const nodes = placed.map(drawNode).join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${width} ${height}" ` +
    `width="${width}" height="${height}" role="img" aria-label="${escapeXml(chart.machineId)}">` +
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" ' +
    'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"/></marker></defs>' +
    `<g class="edges">${edges}</g><g class="nodes">${nodes}</g></svg>`
  );
}

function layout(chart: Chart): Placed[] {
  const columns = columnsOf(chart);
  const rows = new Map<number, number>();
  return chart.nodes.map((node) => {
    const column = columns.get(node.path) ?? 0;
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    return { ...node, x: MARGIN + column * COLUMN_WIDTH, y: MARGIN + row * ROW_HEIGHT };
  });
}

/** Breadth-first distance from the top-level initial state; unreachable states go last. */
function columnsOf(chart: Chart): Map<string, number> {
  const start = chart.nodes.find((node) => node.depth === 1 && node.initial) ?? chart.nodes[0];
  const columns = new Map<string, number>();
  if (!start) return columns;

  const queue = [start.path];
  columns.set(start.path, 0);
  while (queue.length) {
    const path = queue.shift() as string;
    const next = (columns.get(path) ?? 0) + 1;
    const targets = [
      ...chart.edges.filter((edge) => edge.source === path).map((edge) => edge.target),
      ...chart.nodes.filter((node) => node.path.startsWith(`${path}.`)).map((node) => node.path),
    ];
    for (const target of targets) {
      if (columns.has(target)) continue;
      columns.set(target, next);
      queue.push(target);
    }
  }

  const last = Math.max(0, ...columns.values()) + 1;
  for (const node of chart.nodes) if (!columns.has(node.path)) columns.set(node.path, last);
  return columns;
}

function drawNode(node: Placed): string {
  const classes = ['state', node.initial ? 'initial' : '', node.final ? 'final' : '']
    .filter(Boolean)
    .join(' ');
  return (
    `<g class="${classes}" data-state="${escapeXml(node.path)}">` +
    `<rect x="${node.x}" y="${node.y}" rx="10" width="${NODE_WIDTH}" height="${NODE_HEIGHT}"/>` +
    `<text x="${node.x + NODE_WIDTH / 2}" y="${node.y + NODE_HEIGHT / 2 + 5}" ` +
    `text-anchor="middle">${escapeXml(node.path)}</text></g>`
  );
}

function drawEdge(edge: ChartEdge, byPath: Map<string, Placed>, index: number): string {
  const source = byPath.get(edge.source);
  const target = byPath.get(edge.target);
  if (!source || !target) return '';

  const { path, labelX, labelY, anchor = 'middle' } = curve(source, target, index);
  return (
    `<g class="edge" data-source="${escapeXml(edge.source)}" ` +
    `data-target="${escapeXml(edge.target)}"><path d="${path}" marker-end="url(#arrow)"/>` +
    `<text x="${labelX}" y="${labelY}" text-anchor="${anchor}">${escapeXml(edge.label)}</text></g>`
  );
}

/** One drawn arrow per pair of states, its label listing every event between them. */
function mergeParallel(edges: ChartEdge[]): ChartEdge[] {
  const merged = new Map<string, ChartEdge>();
  for (const edge of edges) {
    const key = `${edge.source}>${edge.target}`;
    const existing = merged.get(key);
    merged.set(key, existing ? { ...existing, label: `${existing.label} · ${edge.label}` } : edge);
  }
  return [...merged.values()];
}

/**
 * A curve between two boxes: forward edges run left to right, edges within a column bend out
 * to the right, backward edges bend below, self-loops arc above.
 */
function curve(
  source: Placed,
  target: Placed,
  index: number,
): { path: string; labelX: number; labelY: number; anchor?: string } {
  if (source.path === target.path) {
    const x = source.x + NODE_WIDTH / 2;
    const y = source.y;
    return {
      path: `M${x - 20},${y} C${x - 40},${y - 40} ${x + 40},${y - 40} ${x + 20},${y}`,
      labelX: x,
      labelY: y - 32,
    };
  }

  if (source.x === target.x) return sideCurve(source, target, index);

  const forward = target.x > source.x;
  const startX = forward ? source.x + NODE_WIDTH : source.x + NODE_WIDTH / 2;
  const startY = forward ? source.y + NODE_HEIGHT / 2 : source.y + NODE_HEIGHT;
  const endX = forward ? target.x : target.x + NODE_WIDTH / 2;
  const endY = forward ? target.y + NODE_HEIGHT / 2 : target.y + NODE_HEIGHT;
  const bend = forward ? 0 : 40 + (index % 3) * 14;
  const midX = (startX + endX) / 2;
  const midY = (startY + endY) / 2 + bend;
  return {
    path: `M${startX},${startY} Q${midX},${midY + bend} ${endX},${endY}`,
    labelX: midX,
    labelY: midY + (forward ? -6 : 4),
  };
}

function sideCurve(source: Placed, target: Placed, index: number) {
  const x = source.x + NODE_WIDTH;
  const startY = source.y + NODE_HEIGHT / 2;
  const endY = target.y + NODE_HEIGHT / 2;
  const bulge = x + 40 + (index % 3) * 25;
  return {
    path: `M${x},${startY} C${bulge},${startY} ${bulge},${endY} ${x},${endY}`,
    labelX: bulge - 10,
    // Edges between the same column share a midpoint; stagger their labels.
    labelY: (startY + endY) / 2 + 4 + ((index % 4) - 1.5) * 13,
    anchor: 'start',
  };
}

/** Escapes text for XML and HTML. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
