/**
 * Why an MQTT topic filter is invalid (MQTT 3.1.1 section 4.7), or null when it is valid:
 * non-empty, at most 65 535 bytes, no NUL, `+` alone in its level, `#` alone and last.
 */
export function checkTopicFilter(filter: string): string | null {
  if (filter.length === 0) return 'a topic filter is not empty';
  if (Buffer.byteLength(filter, 'utf8') > 65_535) return 'a topic filter is at most 65535 bytes';
  if (filter.includes('\u0000')) return 'a topic filter has no NUL character';

  const levels = filter.split('/');
  for (const [index, level] of levels.entries()) {
    if (level.includes('+') && level !== '+') return '`+` must fill a whole level';
    if (level.includes('#') && (level !== '#' || index !== levels.length - 1)) {
      return '`#` must be the last level, alone';
    }
  }
  return null;
}
