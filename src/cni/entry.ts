// Entry point of the bundled executable (`npm run build:cni`): run the plugin once and exit.
import { main } from './main.ts';

void main();
