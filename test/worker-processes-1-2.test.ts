// 1 and 2 Worker processes sharing one session: each delivery handled once to
// completion, per-row order, a SIGKILLed process's leases return (test/support/worker-processes.ts).
import { workerProcessTests } from './support/worker-processes.js';

workerProcessTests([1, 2]);
