/** The time now. Everything that reads the time takes one, so tests can move it. */
export type Clock = () => Date;

/** The system's clock: the only place node-heal reads the wall time. */
export const systemClock: Clock = () => new Date();
