import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CATEGORY, COMMANDS, VIEWS, VIEW_CONTAINER } from '../../src/extension/commands';

interface Contributed {
  command: string;
  title: string;
  category?: string;
  icon?: string;
}
interface MenuItem {
  command: string;
  when?: string;
}
interface Manifest {
  activationEvents?: string[];
  contributes: {
    commands: Contributed[];
    menus: Record<string, MenuItem[]>;
    views: Record<string, { id: string }[]>;
    viewsContainers: { activitybar: { id: string }[] };
  };
}

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as Manifest;
const table = Object.values(COMMANDS);

describe('commands table and package.json', () => {
  it('contributes exactly the commands of the table, with the same titles and category', () => {
    const contributed = new Map(manifest.contributes.commands.map((c) => [c.command, c]));
    assert.deepEqual([...contributed.keys()].sort(), table.map((c) => c.id).sort());
    for (const spec of table) {
      const c = contributed.get(spec.id)!;
      assert.equal(c.title, spec.title, spec.id);
      assert.equal(c.category, CATEGORY, spec.id);
      assert.equal(c.icon, 'icon' in spec ? spec.icon : undefined, spec.id);
    }
  });

  it('namespaces every command id under gascity.', () => {
    for (const spec of table) assert.match(spec.id, /^gascity\.[a-zA-Z]+$/);
  });

  it('hides from the command palette exactly the commands that need a tree item or graph', () => {
    const hidden = manifest.contributes.menus.commandPalette!.filter((m) => m.when === 'false').map((m) => m.command).sort();
    assert.deepEqual(hidden, table.filter((c) => !c.palette).map((c) => c.id).sort());
  });

  it('menus refer only to contributed commands and views', () => {
    const ids = new Set(table.map((c) => c.id));
    const viewIds = Object.values(VIEWS) as string[];
    for (const [menu, items] of Object.entries(manifest.contributes.menus)) {
      for (const item of items) {
        assert.ok(ids.has(item.command as never), `${menu} names unknown command ${item.command}`);
        for (const [, view] of (item.when ?? '').matchAll(/view == ([\w.]+)/g)) assert.ok(viewIds.includes(view!), `${menu} names unknown view ${view}`);
      }
    }
  });

  it('declares the views of the table in the Gas City activity-bar container', () => {
    assert.deepEqual(manifest.contributes.viewsContainers.activitybar.map((c) => c.id), [VIEW_CONTAINER]);
    assert.deepEqual(manifest.contributes.views[VIEW_CONTAINER]!.map((v) => v.id), Object.values(VIEWS));
  });

  it('activates only on use: its views, its commands, or a workspace with formulas', () => {
    const events = manifest.activationEvents ?? [];
    assert.ok(!events.includes('*') && !events.includes('onStartupFinished'));
    assert.ok(events.includes('workspaceContains:formulas/*.formula.toml'));
  });
});
