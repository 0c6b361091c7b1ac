import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { EnvironmentSchema } from '../src/config.js';

describe('README', () => {
  it('documents every environment variable the engine reads', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');

    const missing = Object.keys(EnvironmentSchema.shape).filter(
      (name) => !readme.includes(`\`${name}\``),
    );

    expect(missing).toEqual([]);
  });

  it('names the two commands a newcomer needs', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');

    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
  });
});
