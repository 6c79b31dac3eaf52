import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assignArm, assignmentPoint } from '../../../src/ledger/promotion/assign';

describe('assignArm', () => {
  it('is sticky: the same task and candidate always get the same arm', () => {
    for (let i = 0; i < 50; i++) {
      assert.equal(assignArm(`task-${i}`, 'v7', 0.2), assignArm(`task-${i}`, 'v7', 0.2));
    }
  });

  it('routes about the trial share of tasks to the candidate', () => {
    let n = 0;
    for (let i = 0; i < 10000; i++) if (assignArm(`task-${i}`, 'v7', 0.2) === 'candidate') n++;
    assert.ok(Math.abs(n / 10000 - 0.2) < 0.015, `share was ${n / 10000}`);
  });

  it('splits tasks afresh for each candidate and honours the extremes', () => {
    let differ = 0;
    for (let i = 0; i < 200; i++) if (assignArm(`task-${i}`, 'v7', 0.5) !== assignArm(`task-${i}`, 'v8', 0.5)) differ++;
    assert.ok(differ > 60, `only ${differ} of 200 tasks changed arm between candidates`);
    assert.equal(assignArm('t', 'v', 0), 'incumbent');
    assert.equal(assignArm('t', 'v', 1), 'candidate');
    assert.notEqual(assignmentPoint('ab', 'c'), assignmentPoint('a', 'bc'));
    const x = assignmentPoint('t', 'v');
    assert.ok(x >= 0 && x < 1);
    assert.throws(() => assignArm('t', 'v', 1.5), /share/);
  });
});
