import { splitTopicLevels } from '../topics/topic-filter.js';
import { topicMatches } from '../topics/topic-matcher.js';
import type { PayloadIssue } from './payload-issue.js';

// Gateway topics read `<site>/gateway/<gateway serial>/...`.
const GATEWAY_SERIAL_LEVEL = 2;

/**
 * The issue to report when a topic of the parser's own shape names a different gateway than
 * the payload's serial_number_gateway; a mismatch means a misconfigured or spoofing gateway,
 * and storing it would file readings under the wrong gateway. A topic routed to the parser
 * by name that does not have the filter's shape carries no serial, so nothing is checked.
 */
export function checkGatewaySerial(
  topicFilter: string,
  topic: string,
  payloadSerial: string,
): PayloadIssue[] {
  if (!topicMatches(topicFilter, topic)) return [];

  const topicSerial = splitTopicLevels(topic)[GATEWAY_SERIAL_LEVEL];
  if (topicSerial === undefined || topicSerial === payloadSerial) return [];
  const message = `"${payloadSerial}" does not match the topic's gateway "${topicSerial}"`;
  return [{ path: 'serial_number_gateway', message }];
}
