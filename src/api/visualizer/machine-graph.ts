import { toDirectedGraph, type DirectedGraphNode } from '@xstate/graph';
import type { AnyStateMachine } from 'xstate';

/** One state of a chart: `path` is the dotted state path without the machine id. */
export interface ChartNode {
  path: string;
  label: string;
  depth: number;
  initial: boolean;
  final: boolean;
}

/** One transition of a chart, between state paths. */
export interface ChartEdge {
  source: string;
  target: string;
  label: string;
}

/** A statechart flattened to nodes and edges, ready to lay out. */
export interface Chart {
  machineId: string;
  nodes: ChartNode[];
  edges: ChartEdge[];
}

type StateNodeLike = DirectedGraphNode['stateNode'];

/**
 * Flattens a machine definition into nodes and edges with @xstate/graph. `toDirectedGraph`
 * leaves out eventless (`always`) transitions, so they are read from the state nodes.
 */
export function chartOf(machine: AnyStateMachine): Chart {
  const nodes: ChartNode[] = [];
  const edges: ChartEdge[] = [];
  const visit = (node: DirectedGraphNode) => {
    const state = node.stateNode;
    if (state.path.length > 0) nodes.push(chartNode(state));
    for (const edge of node.edges) {
      edges.push({
        source: pathOf(edge.source),
        target: pathOf(edge.target),
        label: edgeLabel(edge.label.text, guardName(edge.transition.guard)),
      });
    }
    edges.push(...alwaysEdges(state));
    node.children.forEach(visit);
  };
  visit(toDirectedGraph(machine));
  return { machineId: machine.id, nodes, edges: dedupe(edges) };
}

function chartNode(state: StateNodeLike): ChartNode {
  const parent = state.parent;
  const initialKey = parent?.initial?.target[0]?.key;
  return {
    path: pathOf(state),
    label: state.key,
    depth: state.path.length,
    initial: initialKey === state.key,
    final: state.type === 'final',
  };
}

function alwaysEdges(state: StateNodeLike): ChartEdge[] {
  return (state.always ?? []).flatMap((transition) =>
    (transition.target ?? []).map((target) => ({
      source: pathOf(state),
      target: pathOf(target),
      label: edgeLabel('always', guardName(transition.guard)),
    })),
  );
}

function pathOf(state: { path: string[] }): string {
  return state.path.join('.');
}

function guardName(guard: unknown): string | undefined {
  if (!guard) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && 'type' in guard && typeof guard.type === 'string') {
    return guard.type;
  }
  return 'guard';
}

function edgeLabel(event: string, guard: string | undefined): string {
  const name = event.startsWith('xstate.after.') ? `after ${event.split('.')[2] ?? ''}` : event;
  return guard ? `${name} [${guard}]` : name;
}

function dedupe(edges: ChartEdge[]): ChartEdge[] {
  const seen = new Set<string>();
  return edges.filter((edge) => {
    const key = `${edge.source}>${edge.target}>${edge.label}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The state paths active in an XState state value (`'a'`, `{ a: 'b' }` → `a`, `a.b`). */
export function activePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [join(prefix, value)];
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => [
    join(prefix, key),
    ...activePaths(child, join(prefix, key)),
  ]);
}

function join(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}
