import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The offline model the demo ships: a loopback server speaking the part of the OpenAI Responses API
 * that Codex uses (POST /v1/responses answered with server-sent events), so that `npm run demo` runs
 * real Codex threads on a machine without an OpenAI account. It is a scripted worker, not a language
 * model: for each node it reads the step from the thread's developer instructions, runs shell commands
 * through Codex's own `exec_command` tool (editing a file, running the tests), then calls the node tool
 * `report_result` with what the commands printed. Every answer is a function of the request, so the
 * demo is repeatable.
 */
export interface DemoModel {
  /** The base URL to configure as Codex's model provider (`http://127.0.0.1:PORT/v1`). */
  baseUrl: string;
  /** Requests answered so far. */
  requests(): number;
  close(): Promise<void>;
}

interface InputItem {
  type: string;
  role?: string;
  content?: Array<{ type: string; text?: string }>;
  output?: unknown;
  name?: string;
}

interface Request {
  input?: InputItem[];
}

type Step = { exec: string; why: string } | { report: 'done' | 'failed'; summary: string } | { say: string };

/** Starts the demo model on a free loopback port. */
export async function startDemoModel(): Promise<DemoModel> {
  let count = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/responses')) {
        res.writeHead(404).end();
        return;
      }
      count++;
      let step: Step;
      try {
        step = decide(JSON.parse(body) as Request);
      } catch (e) {
        step = { say: `The demo model could not read the request: ${(e as Error).message}` };
      }
      answer(res, count, step);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests: () => count,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function text(items: InputItem[] | undefined, role: string): string {
  return (items ?? []).filter((i) => i.type === 'message' && i.role === role).flatMap((i) => i.content ?? []).map((c) => c.text ?? '').join('\n');
}

function outputs(items: InputItem[] | undefined): string[] {
  return (items ?? []).filter((i) => i.type === 'function_call_output').map((i) => {
    const o = i.output;
    return typeof o === 'string' ? o : Array.isArray(o) ? o.map((c: { text?: string }) => c.text ?? '').join('\n') : JSON.stringify(o);
  });
}

/** The shell-quoted form of a string for `sh -c`. */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The next move for the node this request's thread works on. */
function decide(request: Request): Step {
  const developer = text(request.input, 'developer');
  const user = text(request.input, 'user');
  const done = outputs(request.input);
  const step = /\(step "([^"]+)", node ([^)]+)\)/.exec(developer);
  if (!step) return { say: 'This demo model only works Gas City nodes.' };
  const [, stepId, nodeId] = step;
  const test = /Run `([^`]+)`/.exec(user)?.[1] ?? 'npm test';
  const last = done.at(-1) ?? '';
  // Codex wraps a command's output as "…\nOutput:\n<text>": keep what the command printed.
  const printed = last.includes('Output:') ? last.slice(last.lastIndexOf('Output:') + 'Output:'.length) : last;
  const tail = printed.split('\n').filter((l) => l.trim()).slice(-3).join(' | ').slice(0, 300);
  if (done.some((o) => o.includes('"recorded":true'))) return { say: `Recorded the result of ${nodeId}.` };
  const plan: string[] = [];
  switch (stepId) {
    case 'refactor': {
      const file = /Refactor (\S+) towards/.exec(user)?.[1] ?? '';
      // A behaviour-preserving edit: the file gains a header comment saying what the refactor did.
      if (file) plan.push(`node -e ${sq(`const fs=require('fs');const f=${JSON.stringify(file)};const s=fs.readFileSync(f,'utf8');if(!s.startsWith('// Refactored'))fs.writeFileSync(f,'// Refactored by Gas City demo: '+${JSON.stringify(nodeId)}+'\\n'+s);console.log('edited '+f)`)}`);
      plan.push(test);
      break;
    }
    case 'review':
      break;
    default:
      plan.push(test);
  }
  if (done.length < plan.length) return { exec: plan[done.length]!, why: `step ${stepId}` };
  const failed = /exit code [1-9]|Process exited with code [1-9]|failed/i.test(last) && !/exited with code 0/.test(last);
  if (stepId === 'review') return { report: 'done', summary: `Review request for ${nodeId}: the files were refactored in parallel, behaviour pinned by the tests.` };
  return failed
    ? { report: 'failed', summary: `${stepId}: the tests failed: ${tail}` }
    : { report: 'done', summary: stepId === 'refactor' ? `edited ${/Refactor (\S+) towards/.exec(user)?.[1] ?? 'the file'} (a header comment; behaviour unchanged), then \`${test}\`: ${tail || 'no output'}` : `ran \`${test}\`: ${tail || 'no output'}` };
}

function answer(res: http.ServerResponse, n: number, step: Step): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const send = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  send('response.created', { response: { id: `resp_${n}` } });
  let item: Record<string, unknown>;
  if ('exec' in step) {
    item = { type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: 'exec_command', arguments: JSON.stringify({ cmd: step.exec, login: false }) };
  } else if ('report' in step) {
    item = { type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: 'report_result', arguments: JSON.stringify({ outcome: step.report, summary: step.summary }) };
  } else {
    item = { type: 'message', role: 'assistant', id: `msg_${n}`, content: [{ type: 'output_text', text: step.say }] };
  }
  send('response.output_item.done', { item });
  send('response.completed', {
    response: {
      id: `resp_${n}`,
      usage: { input_tokens: 600, input_tokens_details: { cached_tokens: 0 }, output_tokens: 40, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 640 },
    },
  });
  res.end();
}
