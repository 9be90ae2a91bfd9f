import { availableParallelism } from 'node:os';
import { Gate } from '../core/gate.js';

/**
 * Turns at timing host instants, shared by every board of a process. A timed exchange (a byte out,
 * a line back, both stamped with host time) is only as narrow as the event loop is quick to see its
 * line; when a rig's 32 boards time their edges in the same second, each one's lines wait behind the
 * others' (and, for the sim, their VMs take the cores), and every bound widens together: closed-loop
 * exchanges fed each other until most ran to their cap. Taking turns, at most one board per core
 * times at once, each for the few tens of ms its exchanges need while the host is free for them.
 *
 * A turn is waited for only as long as the reading can spare (Gate's maxWaitMs): a board that gets
 * none in time times without one (its bounds as wide as the load makes them, still true), so a queue
 * can delay a reading but never stop it.
 */
export const timingSlots = new Gate(Math.max(1, availableParallelism()));
