import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { contentSecurityPolicy, graphHtml, newNonce } from '../../src/extension/webviewHtml';

describe('graph webview HTML', () => {
  const input = { cspSource: 'https://x.vscode-cdn.net', scriptUri: 'https://x/media/webview.js', styleUri: 'https://x/media/webview.css', title: 'Lineage: <fam>' };

  it("denies everything by default and runs only this render's script", () => {
    const html = graphHtml({ ...input, nonce: 'abc123' });
    const csp = /Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
    assert.match(csp, /^default-src 'none'/);
    assert.match(csp, /script-src 'nonce-abc123'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.match(html, /<script nonce="abc123" src="https:\/\/x\/media\/webview\.js"><\/script>/);
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
  });

  it('uses a fresh nonce for every render', () => {
    const a = newNonce();
    const b = newNonce();
    assert.notEqual(a, b);
    assert.ok(a.length >= 20);
    assert.notEqual(graphHtml(input), graphHtml(input));
  });

  it('escapes the title', () => {
    assert.match(graphHtml(input), /<title>Lineage: &lt;fam&gt;<\/title>/);
  });

  it('lets styles and fonts come only from the extension', () => {
    assert.match(contentSecurityPolicy('https://cdn', 'n'), /style-src https:\/\/cdn;/);
  });
});
