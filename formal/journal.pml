/*
 * The multi-writer journal protocol of src/ledger/store (store.ts, journal.ts, lock.ts), as a model
 * for spin. Writers take the lock (breaking it when its owner is dead), catch up with the journal
 * (cutting off a torn tail), append one commit line (a write that may be short, may hit a full disk,
 * then a sync that may fail), and sometimes checkpoint (snapshot by atomic rename, then a fresh
 * journal by atomic rename, either of which may fail). A writer may crash between any two steps; it
 * then restarts as a new process, and the lock it held is stale.
 *
 * Invariants, checked in every reachable state by the monitor:
 *   1. No acknowledged commit is lost: it is in the snapshot, or in a complete journal line above it.
 *   2. A commit reported as failed is never recorded (a client that retries would record it twice).
 *   3. What a reader recovers has contiguous seqs: the journal lines above the snapshot continue it
 *      one by one, and the journal never starts above the snapshot.
 *
 * Each -D flag below turns on one known bug, so that the check is shown to catch it
 * (test/formal/spin.test.ts runs every one and expects an error):
 *   BUG_IGNORE_SHORT_WRITE   acknowledge after a short write (the byte count of write() is ignored)
 *   BUG_NO_CUT_ON_SYNC_FAIL  report a failed sync without cutting the line back off
 *   BUG_JOURNAL_FIRST        checkpoint by replacing the journal before the snapshot
 *   BUG_BREAK_LIVE_LOCK      break a lock without checking that its owner is dead
 */

#define W        2      /* writer processes */
#define MAXID    4      /* commits attempted in all; ids 1..MAXID, bit i of a mask is commit i */
#define MAXLINES 5
#define MAXCRASH 2
#define NONE     255

byte snapSeq = 0;           /* the snapshot holds seqs 1..snapSeq ... */
byte snapIds = 0;           /* ... which are these commits */
byte jbase = 0;             /* the journal header's base */
byte jn = 0;                /* complete lines */
byte jseq[MAXLINES];
byte jid[MAXLINES];
bool jtorn = false;         /* a partial line after the complete ones */

byte lockOwner = NONE;      /* the incarnation holding the lock file */
bool dead[W * (MAXCRASH + 1)];  /* incarnations that crashed: their locks are stale */

byte acked = 0;
byte failed = 0;
byte nextId = 1;
byte crashes = 0;

#define BIT(i) (1 << (i))

/* The commits a reader recovers, and whether their seqs are contiguous. */
byte k;                     /* scratch for recover(); always 0 between steps */
byte expect;

inline recover(rec, ok) {
  k = 0;
  expect = snapSeq + 1;
  rec = snapIds;
  ok = (jbase <= snapSeq);
  do
  :: k < jn ->
     if
     :: jseq[k] > snapSeq -> rec = rec | BIT(jid[k]); ok = ok && (jseq[k] == expect); expect++
     :: else
     fi;
     k++
  :: else -> break
  od;
  k = 0;
  expect = 0
}

active proctype monitor() {
  byte rec;
  bool ok;
end:
  do
  :: d_step {
       recover(rec, ok);
       assert(ok);
       assert((acked & rec) == acked);
       assert((failed & rec) == 0);
       rec = 0;
       ok = false
     }
  od
}

/* One writer process p; each restart after a crash is a new incarnation (pid + start time). */
proctype writer(byte p) {
  byte me = p;              /* this incarnation */
  byte life = 0;
  byte m;                   /* the last seq read */
  byte id;
  byte rec;
  bool ok;

start:
  do
  :: nextId > MAXID -> goto done
  :: else ->
     /* Take the lock: create it when free, or break it when its owner is shown to be gone. */
     if
     :: atomic { lockOwner == NONE -> lockOwner = me }
     :: atomic { lockOwner != NONE && lockOwner != me &&
#ifdef BUG_BREAK_LIVE_LOCK
                 true
#else
                 dead[lockOwner]
#endif
                 -> lockOwner = NONE }; goto start
     fi;
     /* Catch up: read every complete line, and cut off a torn tail (only the lock holder may). */
     d_step {
       m = snapSeq;
       if :: jn > 0 && jseq[jn - 1] > m -> m = jseq[jn - 1] :: else fi;
       jtorn = false
     };
     if :: crashes < MAXCRASH -> goto crash :: true fi;
     /* Decide: a new commit with the next seq. */
     atomic {
       if :: nextId > MAXID -> lockOwner = NONE; goto done :: else fi;
       id = nextId; nextId++
     };
     /* Append: the write may be short and continued, or hit a full disk. */
     if
     :: jtorn = true;                                   /* a short write: part of the line */
        if :: crashes < MAXCRASH -> goto crash :: true fi;
        if
        :: d_step { jtorn = false; jseq[jn] = m + 1; jid[jn] = id; jn++ }   /* the rest follows */
        :: true ->                                      /* the disk is full: the next write fails */
#ifdef BUG_IGNORE_SHORT_WRITE
           acked = acked | BIT(id); goto release
#else
           d_step { jtorn = false; failed = failed | BIT(id) }; goto release
#endif
        fi
     :: d_step { assert(jn < MAXLINES); jseq[jn] = m + 1; jid[jn] = id; jn++ }  /* the whole line at once */
     fi;
     if :: crashes < MAXCRASH -> goto crash :: true fi;
     /* Sync: acknowledged only when it succeeds; when it fails the line is cut back off. */
     if
     :: d_step { acked = acked | BIT(id); m = m + 1 }
     :: true ->
#ifdef BUG_NO_CUT_ON_SYNC_FAIL
        failed = failed | BIT(id)
#else
        d_step { jn--; failed = failed | BIT(id) }
#endif
        ; goto release
     fi;
     if :: crashes < MAXCRASH -> goto crash :: true fi;
     /* Sometimes checkpoint: snapshot, then a fresh journal; each by an atomic rename that may fail. */
     if
     :: true
     :: jn > 0 ->
#ifdef BUG_JOURNAL_FIRST
        d_step { jn = 0; jbase = m };
        if :: crashes < MAXCRASH -> goto crash :: true fi;
        d_step { recover(rec, ok); snapIds = rec; snapSeq = m; rec = 0; ok = false }
#else
        if
        :: d_step { recover(rec, ok); snapIds = rec; snapSeq = m; rec = 0; ok = false };
           if :: crashes < MAXCRASH -> goto crash :: true fi;
           if
           :: d_step { jn = 0; jbase = m }
           :: true                                      /* the fresh journal could not be written */
           fi
        :: true                                         /* the snapshot could not be written */
        fi
#endif
     :: true -> skip
     fi;
release:
     atomic { if :: lockOwner == me -> lockOwner = NONE :: else fi }
  od;

crash:
  /* SIGKILL: the lock file stays behind; the process is started again as a new incarnation. */
  skip;
  d_step {
    dead[me] = true;
    crashes++;
    life++;
    me = p + W * life;
    m = 0;
    id = 0
  };
  goto start;

done:
  skip
}

init {
  atomic {
    byte i = 0;
    do
    :: i < W -> run writer(i); i++
    :: else -> break
    od
  }
}
