// Run events for people: each event of the executor handed to the stage-line and
// progress-bar reporter. `lth run` and the API's `run()` print the same way.

import type { RunEvent } from "../execute/scheduler.js";
import type { Reporter } from "./progress.js";

export function showEvent(reporter: Reporter, e: RunEvent): void {
  switch (e.type) {
    case "backend":
      return reporter.info(`backend: ${e.backend} (${e.why})`);
    case "start":
      return reporter.started(e.id, e.op);
    case "progress":
      return reporter.progress(e);
    case "stage":
      return reporter.finished(e.id, e.op, e.blocked ? "blocked" : e.status, e.seconds, e.message);
    case "job":
      return reporter.info(`${e.id}: SLURM job ${e.job} ${e.state} (the run's jobs: ${e.jobs.queued} queued, ${e.jobs.running} running, ${e.jobs.done} done)`);
    case "warning":
      return reporter.info(`warning: ${e.message}`);
    case "summary":
      return reporter.summary({ ran: e.ran, cached: e.cached, failed: e.failed - e.blocked, blocked: e.blocked }, e.seconds);
  }
}
