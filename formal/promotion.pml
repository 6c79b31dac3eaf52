/*
 * The promotion state machine of one formula family (docs/promotion.md, src/ledger/promotion and
 * src/ledger/families.ts), as a model for spin. Each action is one commit of the ledger, so actions
 * are atomic and happen one at a time, in any order the ledger allows.
 *
 *   candidate --screen--> screen --pass--> trial --promote--> active (watched) --stands--> active
 *        |                  |                |                        |
 *        +--- reject -------+---- reject ----+                        +--rollback--> rejected
 *
 * A person may also promote a candidate, a trial or a retired variant by hand, reject a candidate
 * or a variant in screen or trial, and roll the family back. A promotion retires the previously
 * active variant; a rollback rejects the active variant and makes active again the most recently
 * active variant that is not rejected.
 *
 * Invariants, checked after every action:
 *   1. Exactly one variant is active.
 *   2. A variant once rejected is never active again.
 *   3. A rejected variant stays rejected.
 *
 * Each -D flag turns on one bug, so that the check is shown to catch it:
 *   BUG_ROLLBACK_TO_PREVIOUS  roll back to the variant the current one replaced, even if it was rejected
 *                             since (issue 10: mutate, promote, rollback, rollback activated the
 *                             rejected candidate)
 *   BUG_PROMOTE_KEEPS_OLD     promote without retiring the previously active variant
 */

#define N        4      /* variants: 0 is the first import, the others are candidates */
#define MAXSEL   10     /* activations recorded */
#define MAXSTEPS 10

mtype = { ABSENT, CANDIDATE, SCREEN, TRIAL, ACTIVE, RETIRED, REJECTED };

mtype status[N];
bool everRejected[N];
byte watched = 255;         /* the variant under watch after its promotion, if any */
byte selV[MAXSEL];          /* the log of activations: variant, and the variant it replaced */
byte selPrev[MAXSEL];
byte nsel = 0;
byte steps = 0;
byte cur = 0;               /* the active variant */

byte i;                     /* scratch; always 0 between actions */
byte count;
byte target;

inline check() {
  count = 0;
  i = 0;
  do
  :: i < N -> if :: status[i] == ACTIVE -> count++ :: else fi;
              if :: everRejected[i] -> assert(status[i] == REJECTED) :: else fi;
              i++
  :: else -> break
  od;
  assert(count == 1);
  assert(status[cur] == ACTIVE);
  assert(!everRejected[cur]);
  i = 0;
  count = 0
}

inline activate(v, why) {
  assert(nsel < MAXSEL);
  selV[nsel] = v;
  selPrev[nsel] = cur;
  nsel++;
#ifndef BUG_PROMOTE_KEEPS_OLD
  if :: status[cur] == ACTIVE -> status[cur] = RETIRED :: else fi;
#endif
  status[v] = ACTIVE;
  cur = v
}

inline reject(v) {
  status[v] = REJECTED;
  everRejected[v] = true;
  if :: watched == v -> watched = 255 :: else fi
}

/* The variant to roll back to, or 255 when there is none. */
inline rollbackTarget() {
  target = 255;
#ifdef BUG_ROLLBACK_TO_PREVIOUS
  /* The previous variant of the current one's latest activation, whatever its status. */
  i = nsel;
  do
  :: i > 0 -> i--; if :: selV[i] == cur -> target = selPrev[i]; break :: else fi
  :: else -> break
  od;
#else
  /* Walk back through the activations to the latest variant that is neither current nor rejected. */
  i = nsel;
  do
  :: i > 0 && target == 255 ->
     i--;
     if
     :: selPrev[i] != cur && status[selPrev[i]] != REJECTED -> target = selPrev[i]
     :: else
     fi
  :: else -> break
  od;
#endif
  i = 0
}

inline rollback() {
  rollbackTarget();
  if
  :: target != 255 && target != cur ->
     reject(cur);
     activate(target, 0);
     watched = 255
  :: else                   /* refused: nothing earlier to go back to; nothing changes */
  fi;
  target = 0
}

active proctype family() {
  byte v;
  d_step {
    status[0] = ACTIVE;
    v = 1;
    do :: v < N -> status[v] = ABSENT; v++ :: else -> break od;
    v = 0
  };
  do
  :: steps >= MAXSTEPS -> break
  :: else ->
     /* Choose a variant for the action; actions that do not fit its status are not enabled. */
     if :: v = 0 :: v = 1 :: v = 2 :: v = 3 fi;
     if
     :: status[v] == ABSENT -> d_step { status[v] = CANDIDATE }                 /* mutate */
     :: status[v] == CANDIDATE -> d_step { status[v] = SCREEN }                 /* start the screen */
     :: status[v] == SCREEN -> d_step { status[v] = TRIAL }                     /* the screen passes */
     :: (status[v] == SCREEN || status[v] == TRIAL || status[v] == CANDIDATE) -> d_step { reject(v) }  /* rule or person rejects */
     :: status[v] == TRIAL -> d_step { activate(v, 0); watched = v }            /* the rule promotes */
     :: (status[v] == CANDIDATE || status[v] == TRIAL || status[v] == RETIRED) -> d_step { activate(v, 0); watched = v }  /* a person promotes */
     :: watched != 255 && v == watched -> d_step { watched = 255 }               /* the watch ends: the promotion stands */
     :: watched != 255 && v == watched -> d_step { rollback() }                  /* the watch ends: rolled back */
     :: v == cur -> d_step { rollback() }                                     /* a person rolls back */
     :: else -> skip                                                             /* nothing fits this variant */
     fi;
     d_step { steps++; v = 0; check() }
  od
}
