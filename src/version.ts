import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** tortie's release, read from package.json so that there is one place to bump it. */
export const VERSION: string = pkg.version;
