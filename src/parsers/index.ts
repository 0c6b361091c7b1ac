import { gatewayStatusParser } from './gateway-status.parser.js';
import { ParserRegistry } from './parser-registry.js';
import { telemetryParser } from './telemetry.parser.js';

export * from './parse-payload.js';
export * from './parser-registry.js';
export * from './parser.js';
export * from './payload-issue.js';
export { gatewayStatusParser } from './gateway-status.parser.js';
export { telemetryParser } from './telemetry.parser.js';

/** A registry holding every shipped parser; a new parser adds one line here. */
export function createDefaultRegistry(): ParserRegistry {
  return new ParserRegistry().register(telemetryParser).register(gatewayStatusParser);
}
