/**
 * The regular expression (PostgreSQL ARE and JavaScript alike) that matches exactly the topics
 * an MQTT filter matches: `+` is one level (possibly empty), a trailing `#` is the parent
 * level and everything below, wildcards in the first level never match `$` topics, and every
 * other character is literal. Used to filter the topic catalogue inside the database.
 */
export function topicFilterRegex(filter: string): string {
  const levels = filter.split('/');
  const multi = levels[levels.length - 1] === '#';
  const fixed = multi ? levels.slice(0, -1) : levels;
  const body = fixed.map((level) => (level === '+' ? '[^/]*' : escapeRegex(level))).join('/');

  let pattern: string;
  if (!multi) pattern = body;
  else if (fixed.length === 0) pattern = '.*';
  else pattern = `${body}(/.*)?`;

  const guard = filter.startsWith('+') || filter.startsWith('#') ? '(?!\\$)' : '';
  return `^${guard}${pattern}$`;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, (char) => `\\${char}`);
}
