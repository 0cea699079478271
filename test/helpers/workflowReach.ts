// What each job of a GitHub workflow can reach: whether a pull request's code runs in it,
// whether it runs only for main, its environment (whose secrets it gets), and the Pulumi
// stacks its steps open (each one decrypts that stack's secrets and its kubeconfig output).

/** Events that run a pull request's code, or run with secrets on a pull request's behalf. */
const PULL_REQUEST_EVENTS = ["pull_request", "pull_request_target", "workflow_run"];
const MAIN_ONLY_IF = "github.ref == 'refs/heads/main'";

export interface JobReach {
  job: string;
  runsPullRequestCode: boolean;
  mainOnly: boolean;
  environment: string | undefined;
  stacks: string[];
  needs: string[];
}

function triggers(on: unknown): Record<string, any> {
  if (typeof on === "string") return { [on]: {} };
  if (Array.isArray(on)) return Object.fromEntries(on.map((event) => [event, {}]));
  return (on ?? {}) as Record<string, any>;
}

/** The stack names a stack-name input can take, with `${{ matrix.x }}` expanded over the job's matrix. */
function stacksOf(stackName: string, matrix: Record<string, unknown> | undefined): string[] {
  const last = stackName.split("/").pop()!;
  const reference = /^\$\{\{\s*matrix\.(\w+)\s*\}\}$/.exec(last);
  if (!reference) return [last];
  const values = matrix?.[reference[1]!];
  return Array.isArray(values) ? values.map(String) : [`<any ${reference[1]}>`];
}

export function workflowReach(workflow: any): JobReach[] {
  const on = triggers(workflow.on);
  const events = Object.keys(on);
  const runsPullRequestCode = events.some((event) => PULL_REQUEST_EVENTS.includes(event));
  const pushOnlyToMain = events.length === 1 && events[0] === "push" && JSON.stringify(on.push?.branches) === '["main"]' && !on.push?.tags;
  return Object.entries<any>(workflow.jobs).map(([job, spec]) => {
    const stacks = (spec.steps ?? [])
      .filter((step: any) => String(step.uses ?? "").startsWith("pulumi/actions"))
      .flatMap((step: any) => stacksOf(String(step.with?.["stack-name"] ?? "<the selected stack>"), spec.strategy?.matrix));
    const environment = typeof spec.environment === "object" ? spec.environment?.name : spec.environment;
    return {
      job,
      runsPullRequestCode,
      mainOnly: !runsPullRequestCode && (pushOnlyToMain || String(spec.if ?? "").trim() === MAIN_ONLY_IF),
      environment,
      stacks: [...new Set<string>(stacks)],
      needs: [spec.needs ?? []].flat(),
    };
  });
}

/** Everything in WORKFLOWS (by file name) that lets pull-request code near prod, one line each. */
export function prodReachViolations(workflows: Record<string, any>): string[] {
  const reach = Object.entries(workflows).flatMap(([file, wf]) => workflowReach(wf).map((r) => ({ file, ...r })));
  const prEnvironments = new Set(reach.filter((r) => r.runsPullRequestCode && r.environment).map((r) => r.environment!));
  const problems: string[] = [];
  for (const r of reach) {
    const where = `${r.file} job ${r.job}`;
    if (r.runsPullRequestCode && r.stacks.some((stack) => stack !== "dev")) problems.push(`${where} runs pull-request code and opens ${r.stacks.join(", ")}`);
    if (!r.stacks.includes("prod")) continue;
    if (!r.mainOnly) problems.push(`${where} opens prod but does not run only for main`);
    if (r.environment && prEnvironments.has(r.environment)) problems.push(`${where} opens prod in ${r.environment}, an environment pull requests also get`);
  }
  return problems;
}
