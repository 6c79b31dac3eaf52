import * as fs from 'node:fs';
import { buildHistory } from './memory';
const dir = process.argv[2]!; fs.mkdirSync(dir, { recursive: true });
buildHistory(dir, Number(process.argv[3])).then(() => console.log('built'));
