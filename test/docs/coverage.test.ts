/**
 * Every command the docs show is run by a docs test or listed with the reason it is not
 * (manifest.ts): a new command in a doc fails here until someone decides.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCS, extractCommands } from './doc-commands.js';
import { MANIFEST } from './manifest.js';

describe('the docs suite covers every documented command', () => {
  for (const doc of DOCS) {
    it(`${doc}: each command is run by a test or skipped with a reason, and the list matches the doc`, () => {
      const shown = extractCommands(doc);
      const listed = MANIFEST[doc];
      const unlisted = shown
        .filter((c) => !(c.text in listed))
        .map((c) => `${doc}:${c.line} (${c.section}): ${c.text}`);
      expect(unlisted, 'commands the docs suite neither runs nor skips: add them to test/docs/manifest.ts').toEqual([]);
      const gone = Object.keys(listed).filter((text) => !shown.some((c) => c.text === text));
      expect(gone, `test/docs/manifest.ts lists commands ${doc} no longer shows`).toEqual([]);
      for (const [text, how] of Object.entries(listed)) {
        if ('skip' in how) expect(how.skip.length, text).toBeGreaterThan(10);
        // the runner takes the command from the doc by this text (docCommand)
        else
          expect(
            readFileSync(path.join(import.meta.dirname, how.run), 'utf8'),
            `${how.run} should run \`${text}\``,
          ).toContain(text);
      }
    });
  }

  it('the extractor joins continuation lines and drops comments', () => {
    const md =
      '# T\n```bash\nconvoy plan a \\\n  --b c   # why\n# only a comment\n\nconvoy x "a # b"\n```\n```\nnot bash\n```\n';
    expect(extractCommands('README.md', md).map((c) => c.text)).toEqual(['convoy plan a --b c', 'convoy x "a # b"']);
  });
});
