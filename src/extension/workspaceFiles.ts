// What the extension leaves in a workspace folder, and how it keeps that out of version control: the ledger pointer
// (.gascity/ledger-location.json) holds an absolute path of this machine, meaningless on any other.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const GASCITY_DIR = '.gascity';
const GITIGNORE_TEXT = '# Written by Gas City for Codex: this folder holds paths and data of one machine, not for version control.\n*\n';

/**
 * Writes `.gascity/.gitignore` (ignoring everything in the folder) unless one is there; a person's own file is
 * left as it is. Returns whether it wrote one. Throws the file system's error.
 */
export function keepGasCityOutOfGit(workspaceRoot: string): boolean {
  const dir = path.join(workspaceRoot, GASCITY_DIR);
  fs.mkdirSync(dir, { recursive: true });
  try {
    // 'wx' creates the file only when it does not exist, so two windows cannot race into a half-written file.
    fs.writeFileSync(path.join(dir, '.gitignore'), GITIGNORE_TEXT, { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}
