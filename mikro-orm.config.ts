import { loadConfig } from './src/config.js';
import { ormOptions } from './src/db/orm.js';

// Used by the MikroORM CLI (`npm run migration:create`), run through tsx.
export const cliOptions = ormOptions(loadConfig());

// The CLI loads this module's default export.
// eslint-disable-next-line no-restricted-syntax
export default cliOptions;
