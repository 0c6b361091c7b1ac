import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isAppError } from '../../src/errors.js';
import {
  createDefaultRegistry,
  gatewayStatusParser,
  ParserRegistry,
  telemetryParser,
  type Parser,
} from '../../src/parsers/index.js';

function stubParser(parserName: string, topicFilter: string): Parser<unknown> {
  return {
    parserName,
    topicFilter,
    description: `${parserName} for tests`,
    schema: z.unknown(),
    samples: [{ name: 'one', description: 'a sample', topic: 'a', payload: {} }],
    process: () => undefined,
  };
}

describe('createDefaultRegistry', () => {
  const registry = createDefaultRegistry();

  it('holds the shipped parsers', () => {
    expect(registry.list().map((parser) => parser.parserName)).toEqual([
      'telemetry',
      'gateway_status',
    ]);
    expect(registry.get('telemetry')).toBe(telemetryParser);
    expect(registry.get('gateway_status')).toBe(gatewayStatusParser);
    expect(registry.get('nope')).toBeUndefined();
  });

  it('finds the parser of a topic', () => {
    expect(registry.findForTopic('site_001/gateway/GW-0001/dataloggers/telemetry')).toBe(
      telemetryParser,
    );
    expect(registry.findForTopic('site_001/gateway/GW-0001/status')).toBe(gatewayStatusParser);
    expect(registry.findForTopic('site_001/gateway/GW-0001/dataloggers')).toBeUndefined();
    expect(registry.findForTopic('$SYS/gateway/GW-0001/status')).toBeUndefined();
  });

  it('finds each sample its own parser by topic', () => {
    for (const parser of registry.list()) {
      for (const sample of parser.samples) expect(registry.findForTopic(sample.topic)).toBe(parser);
    }
  });

  it('describes its parsers for the API', () => {
    expect(registry.describe()).toEqual([
      {
        name: 'telemetry',
        topicFilter: '+/gateway/+/dataloggers/telemetry',
        description: telemetryParser.description,
        sampleNames: telemetryParser.samples.map((sample) => sample.name),
      },
      {
        name: 'gateway_status',
        topicFilter: '+/gateway/+/status',
        description: gatewayStatusParser.description,
        sampleNames: ['specification', 'last-will', 'offline-with-timestamp', 'extra-fields'],
      },
    ]);
  });
});

describe('ParserRegistry', () => {
  it('refuses a second parser with the same name', () => {
    const registry = new ParserRegistry().register(stubParser('a', 'x/#'));

    expect(() => registry.register(stubParser('a', 'y/#'))).toThrow(/already registered/);
    expect(registry.findForTopic('y/1')).toBeUndefined();
  });

  it('refuses a parser with an invalid topic filter', () => {
    const registry = new ParserRegistry();

    expect(() => registry.register(stubParser('a', 'x/#/y'))).toThrow(/invalid topic filter/);
    expect(registry.list()).toEqual([]);
  });

  it('prefers the parser registered first when several filters match', () => {
    const broad = stubParser('broad', 'x/#');
    const narrow = stubParser('narrow', 'x/+');
    const registry = new ParserRegistry().register(broad).register(narrow);

    expect(registry.findForTopic('x/1')).toBe(broad);
    expect(new ParserRegistry().register(narrow).register(broad).findForTopic('x/1')).toBe(narrow);
    expect(registry.findForTopic('x/1/2')).toBe(broad);
  });

  it('resolves a configured name first, then the topic', () => {
    const registry = createDefaultRegistry();
    const statusTopic = 'site/gateway/GW-1/status';

    expect(registry.resolve('telemetry', statusTopic)).toBe(telemetryParser);
    expect(registry.resolve('', statusTopic)).toBe(gatewayStatusParser);
    expect(registry.resolve(null, statusTopic)).toBe(gatewayStatusParser);
  });

  it('reports PARSER_NOT_FOUND for an unknown name or an unrecognised topic', () => {
    const registry = createDefaultRegistry();

    for (const [name, topic] of [
      ['missing', 'site/gateway/GW-1/status'],
      [undefined, 'somewhere/else'],
    ] as const) {
      let caught: unknown;
      try {
        registry.resolve(name, topic);
      } catch (error) {
        caught = error;
      }
      expect(isAppError(caught, 'PARSER_NOT_FOUND')).toBe(true);
    }
  });
});
