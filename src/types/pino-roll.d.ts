// pino-roll ships no type declarations; this covers the options the engine uses.
declare module 'pino-roll' {
  import type { SonicBoom } from 'sonic-boom';

  interface PinoRollOptions {
    file: string | (() => string);
    size?: string | number;
    frequency?: string | number;
    extension?: string;
    symlink?: boolean;
    mkdir?: boolean;
    limit?: { count?: number; removeOtherLogFiles?: boolean };
  }

  function pinoRoll(options: PinoRollOptions): Promise<SonicBoom>;
  export default pinoRoll;
}
