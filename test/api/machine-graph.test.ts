import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { connectionMachine } from '../../machines/connection.machine.js';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import { topicFilterRegex } from '../../src/api/topic-regex.js';
import { renderChartSvg } from '../../src/api/visualizer/chart-svg.js';
import { activePaths, chartOf } from '../../src/api/visualizer/machine-graph.js';

const tinyMachine = createMachine({
  id: 'tiny',
  initial: 'idle',
  states: {
    idle: { on: { 'tiny.start': 'running' } },
    running: {
      initial: 'warming',
      states: { warming: { always: { target: 'hot', guard: 'isReady' } }, hot: {} },
      on: { 'tiny.stop': { target: 'idle', guard: 'canStop' } },
      after: { 1000: 'done' },
    },
    done: { type: 'final' },
  },
});

describe('machine charts', () => {
  it('flattens a machine into states and transitions, eventless ones included', () => {
    const chart = chartOf(tinyMachine);
    expect(chart.nodes.map((node) => node.path)).toEqual([
      'idle',
      'running',
      'running.warming',
      'running.hot',
      'done',
    ]);
    expect(chart.nodes.find((node) => node.path === 'idle')?.initial).toBe(true);
    expect(chart.nodes.find((node) => node.path === 'done')?.final).toBe(true);
    expect(chart.edges).toEqual(
      expect.arrayContaining([
        { source: 'idle', target: 'running', label: 'tiny.start' },
        { source: 'running', target: 'idle', label: 'tiny.stop [canStop]' },
        { source: 'running.warming', target: 'running.hot', label: 'always [isReady]' },
        { source: 'running', target: 'done', label: 'after 1000' },
      ]),
    );
  });

  it('draws every state of the real machines as SVG with their paths', () => {
    for (const machine of [connectionMachine, supervisorMachine]) {
      const chart = chartOf(machine);
      const svg = renderChartSvg(chart);
      expect(chart.nodes.length).toBeGreaterThan(2);
      expect(chart.edges.length).toBeGreaterThan(2);
      for (const node of chart.nodes) expect(svg).toContain(`data-state="${node.path}"`);
      expect(svg.startsWith('<svg')).toBe(true);
    }
  });

  it('lists the active state paths of nested state values', () => {
    expect(activePaths('idle')).toEqual(['idle']);
    expect(activePaths({ running: 'hot' })).toEqual(['running', 'running.hot']);
  });
});

describe('topic filter regular expressions', () => {
  const matches = (filter: string, topic: string) =>
    new RegExp(topicFilterRegex(filter)).test(topic);

  it('follows MQTT 3.1.1 matching rules', () => {
    expect(matches('a/#', 'a')).toBe(true);
    expect(matches('a/#', 'a/b/c')).toBe(true);
    expect(matches('a/+', 'a/')).toBe(true);
    expect(matches('a/+', 'a/b/c')).toBe(false);
    expect(matches('#', '$SYS/x')).toBe(false);
    expect(matches('+/x', '$SYS/x')).toBe(false);
    expect(matches('$SYS/#', '$SYS/x')).toBe(true);
    expect(matches('a.b/c', 'axb/c')).toBe(false);
    expect(matches('a*(b)', 'a*(b)')).toBe(true);
  });
});
