//! Password hashing: argon2id for everything Gatehouse writes; PocketBase's bcrypt hashes are
//! still accepted and flagged for re-hashing. Hashing is CPU- and memory-bound, so it runs on a
//! pool of one thread per core, off the async runtime: extra logins queue instead of starving the
//! server, and at most one argon2 buffer per core exists at a time. The queue is bounded (past
//! [`QUEUE_PER_THREAD`] waiting jobs per thread a request gets 429 at once rather than a wait that
//! only grows), and a job whose request has gone is dropped before it starts.

use crate::error::{Error, Result};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngExt;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

/// OWASP's minimum memory and passes for argon2id (2026 cheat sheet): 19 MiB, 2 passes. Split
/// into 2 lanes, which the argon2 crate computes on 2 threads (its `parallel` feature): a guess
/// costs an attacker the same memory and work as with OWASP's 1 lane, and a login on a quiet
/// server waits half as long. (RFC 9106's own recommendations use 4 lanes.)
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
pub const ARGON2_PASSES: u32 = 2;
pub const ARGON2_LANES: u32 = 2;
const SALT_BYTES: usize = 16;

/// A hash with the current parameters of a password nobody has: unknown accounts are checked
/// against it so that they cost the same time as known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$41nRpzA1vCEDcXiFt1FnTz5uQza9vmkJ7dmhdhcBj+k";

/// A plain-text password from a request. Never printed.
#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matched: bool,
    /// The hash is bcrypt or uses older argon2 parameters: store a fresh one.
    pub needs_rehash: bool,
}

/// Jobs that may wait per hashing thread before new ones are refused: with argon2 at tens of
/// milliseconds a hash, a full queue is already a wait of seconds.
pub const QUEUE_PER_THREAD: usize = 32;

/// A queued hash and where its answer goes.
struct Pending<T, F> {
    answer: tokio::sync::oneshot::Sender<Result<T>>,
    work: F,
}

/// A queued hash, whatever it answers: run unless its caller has gone (the answer would go
/// nowhere).
trait Job: Send {
    fn abandoned(&self) -> bool;
    fn run(self: Box<Self>, memory: &mut Memory);
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&mut Memory) -> Result<T> + Send,
{
    fn abandoned(&self) -> bool {
        self.answer.is_closed()
    }
    fn run(self: Box<Self>, memory: &mut Memory) {
        let _ = self.answer.send((self.work)(memory));
    }
}

/// The hashing pool: one thread per core, each with its own argon2 memory. Logins beyond that
/// queue here instead of competing for the cores (and for 19 MiB each). The hashes themselves
/// run on [`Lanes`], where the lanes of one hash are shared out over the cores.
pub struct Passwords {
    jobs: Mutex<mpsc::Sender<Box<dyn Job>>>,
    /// Jobs sent and not yet taken by a worker.
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    /// Hashes and verifications asked for, dummy ones included: what the CPU was asked to do.
    runs: AtomicU64,
}

fn argon2() -> Argon2<'static> {
    let params =
        Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Passwords {
    /// `parallel` hashes may run at once (the number of cores is the sensible value).
    pub fn new(parallel: usize) -> Self {
        Self::with_queue(parallel, parallel.max(1) * QUEUE_PER_THREAD)
    }

    /// A pool that refuses new jobs while `max_waiting` are already waiting.
    pub fn with_queue(parallel: usize, max_waiting: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let rx = Arc::new(Mutex::new(rx));
        let lanes = Arc::new(Lanes::new(parallel));
        let waiting = Arc::new(AtomicUsize::new(0));
        for i in 0..parallel.max(1) {
            let rx = rx.clone();
            let lanes = lanes.clone();
            let waiting = waiting.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || worker(&rx, &lanes, &waiting));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self {
            jobs: Mutex::new(tx),
            waiting,
            max_waiting,
            runs: AtomicU64::new(0),
        }
    }

    /// How many hashes and verifications were asked for since the server began.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    pub async fn hash(&self, password: &Password) -> Result<String> {
        let password = password.clone();
        self.run(move |memory| hash_blocking(memory, password.as_str()))
            .await
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no account, so
    /// both cases take the same time.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<Verification> {
        let password = password.clone();
        let known = stored.is_some();
        let stored = stored.unwrap_or(DUMMY_HASH).to_owned();
        let result = self
            .run(move |memory| Ok(verify_blocking(memory, password.as_str(), &stored)))
            .await?;
        Ok(Verification {
            matched: result.matched && known,
            needs_rehash: result.needs_rehash && known,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        // Dropping this future (the request was cancelled) drops `rx`, which marks the job
        // abandoned: the worker then skips it.
        self.enqueue(work)?
            .await
            .map_err(|_| Error::internal("password hashing job was dropped"))?
    }

    /// Queues `work`, or refuses it with 429 when the queue is full.
    fn enqueue<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> Result<T> + Send + 'static,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<T>>> {
        let (answer, rx) = tokio::sync::oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending { answer, work });
        let admitted = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_waiting).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            tracing::warn!("password hashing queue is full: request refused");
            return Err(Error::too_many_requests("Too Many Requests."));
        }
        let sent = match self.jobs.lock() {
            Ok(jobs) => jobs.send(job).is_ok(),
            Err(_) => false,
        };
        if !sent {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::internal("password hashing pool is gone"));
        }
        Ok(rx)
    }
}

/// A worker keeps its argon2 memory while logins keep coming and gives it back after
/// [`IDLE_RELEASE`] without work (a buffer is worth keeping only while logins come back to back), so an idle server holds none of it. Waiting workers take turns
/// on the queue: the lock is dropped after every wait, so each one gets to time out and release.
fn worker(jobs: &Mutex<mpsc::Receiver<Box<dyn Job>>>, lanes: &Lanes, waiting: &AtomicUsize) {
    let mut memory = Memory::default();
    loop {
        let next = match jobs.lock() {
            Ok(rx) => rx.recv_timeout(IDLE_RELEASE),
            Err(_) => return,
        };
        match next {
            Ok(job) => {
                waiting.fetch_sub(1, Ordering::AcqRel);
                if !job.abandoned() {
                    lanes.run(|| job.run(&mut memory));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => memory.release(),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_millis(500);

/// The threads argon2 computes lanes on (the crate's `parallel` feature uses whichever rayon pool
/// it is called from). A whole hash runs inside the pool, not just its lanes: each of the hash's
/// 8 synchronisation points is then a fork and join on one pool thread, which runs the second
/// lane itself when the other thread is busy with another login, instead of a hand-off from an
/// outside thread that waits and wakes at every one.
struct Lanes {
    pool: Option<rayon::ThreadPool>,
}

impl Lanes {
    fn new(threads: usize) -> Self {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("password-lane-{i}"))
            .build()
            .map_err(|e| tracing::error!(error = %e, "cannot start the password lane threads; argon2 falls back to rayon's shared pool"))
            .ok();
        Self { pool }
    }

    fn run(&self, work: impl FnOnce() + Send) {
        match &self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }
}

/// Argon2's working memory, reused from one hash to the next.
#[derive(Default)]
struct Memory {
    blocks: Vec<Block>,
}

/// Above glibc's largest dynamic mmap threshold (32 MiB): such an allocation is always its own
/// mapping, so freeing it returns the pages to the OS rather than to a malloc arena. Pages past
/// what argon2 touches are never backed by memory.
const MAPPED_BLOCKS: usize = (33 << 20) / Block::SIZE;

impl Memory {
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            if self.blocks.capacity() < count {
                self.blocks = Vec::with_capacity(MAPPED_BLOCKS.max(count));
            }
            self.blocks.resize(count, Block::default());
        }
        &mut self.blocks[..count]
    }

    fn release(&mut self) {
        self.blocks = Vec::new();
    }
}

fn hash_blocking(memory: &mut Memory, password: &str) -> Result<String> {
    let argon = argon2();
    let mut salt = [0u8; SALT_BYTES];
    rand::rng().fill(&mut salt);
    let blocks = memory.blocks(argon.params().block_count());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut *blocks)
        .map_err(|e| Error::internal(format!("argon2 hash: {e}")))?;
    let phc = (|| {
        Ok::<_, argon2::password_hash::Error>(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(argon.params())?,
            salt: Some(Salt::new(&salt)?),
            hash: Some(Output::new(&out)?),
        })
    })()
    .map_err(|e| Error::internal(format!("argon2 hash: {e}")))?;
    Ok(phc.to_string())
}

fn verify_blocking(memory: &mut Memory, password: &str, stored: &str) -> Verification {
    if stored.starts_with("$2") {
        let matched = bcrypt::verify(password, stored).unwrap_or(false);
        return Verification {
            matched,
            needs_rehash: true,
        };
    }
    let no = Verification {
        matched: false,
        needs_rehash: false,
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return no;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return no;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let argon = Argon2::new(algorithm, version, params.clone());
    let blocks = memory.blocks(params.block_count());
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let computed = buffer.get_mut(..expected.len()).and_then(|out| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), &salt, out, &mut *blocks)
            .ok()?;
        Output::new(out).ok()
    });
    // `Output`'s equality is constant-time.
    let matched = computed.is_some_and(|c| c == expected);
    let current = algorithm == Algorithm::Argon2id
        && params.m_cost() == ARGON2_MEMORY_KIB
        && params.t_cost() == ARGON2_PASSES
        && params.p_cost() == ARGON2_LANES;
    Verification {
        matched,
        needs_rehash: !current,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pw(s: &str) -> Password {
        Password(s.to_owned())
    }

    #[tokio::test]
    async fn argon2id_round_trip() {
        let p = Passwords::new(1);
        let hash = p.hash(&pw("correct horse")).await.unwrap_or_default();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=2$"));
        let ok = p.verify(&pw("correct horse"), Some(&hash)).await.ok();
        assert_eq!(
            ok,
            Some(Verification {
                matched: true,
                needs_rehash: false
            })
        );
        let bad = p.verify(&pw("wrong"), Some(&hash)).await.ok();
        assert_eq!(bad.map(|v| v.matched), Some(false));
    }

    #[tokio::test]
    async fn pocketbase_bcrypt_hashes_verify_and_ask_for_rehash() {
        let hash = bcrypt::hash("12345678", 4).unwrap_or_default();
        let v = Passwords::new(1)
            .verify(&pw("12345678"), Some(&hash))
            .await
            .ok();
        assert_eq!(
            v,
            Some(Verification {
                matched: true,
                needs_rehash: true
            })
        );
    }

    #[tokio::test]
    async fn unknown_account_never_matches() {
        let v = Passwords::new(1).verify(&pw(""), None).await.ok();
        assert_eq!(v.map(|v| v.matched), Some(false));
    }

    #[test]
    fn dummy_hash_uses_current_parameters() {
        assert!(!verify_blocking(&mut Memory::default(), "x", DUMMY_HASH).needs_rehash);
    }

    #[tokio::test]
    async fn hashes_from_the_argon2_crate_verify() {
        use argon2::password_hash::PasswordHasher;
        let salt = *b"sixteen-byte-slt";
        let reference = argon2()
            .hash_password_with_salt(b"pw-12345", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        let v = Passwords::new(2)
            .verify(&pw("pw-12345"), Some(&reference))
            .await
            .ok();
        assert_eq!(
            v,
            Some(Verification {
                matched: true,
                needs_rehash: false
            })
        );
        // Older (weaker) argon2 parameters verify and ask for an upgrade.
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap_or_default(),
        );
        let old = weak
            .hash_password_with_salt(b"pw-12345", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        let v = Passwords::new(1)
            .verify(&pw("pw-12345"), Some(&old))
            .await
            .ok();
        assert_eq!(
            v,
            Some(Verification {
                matched: true,
                needs_rehash: true
            })
        );
    }

    /// Occupies the pool's only worker until the returned sender is dropped or used.
    fn block_the_worker(
        p: &Passwords,
    ) -> (mpsc::Sender<()>, tokio::sync::oneshot::Receiver<Result<()>>) {
        let (release, wait) = mpsc::channel::<()>();
        let (started_tx, started) = mpsc::channel::<()>();
        let busy = p
            .enqueue(move |_| {
                let _ = started_tx.send(());
                let _ = wait.recv();
                Ok(())
            })
            .unwrap();
        // Taken off the queue: the queue itself is empty again.
        started.recv().unwrap();
        (release, busy)
    }

    #[tokio::test]
    async fn a_full_queue_answers_429_at_once() {
        let p = Passwords::with_queue(1, 2);
        let (release, busy) = block_the_worker(&p);
        let first = p.enqueue(|_| Ok(1)).unwrap();
        let second = p.enqueue(|_| Ok(2)).unwrap();
        let refused = p.enqueue(|_| Ok(3)).err().unwrap();
        assert_eq!(refused.kind, crate::error::ErrorKind::TooManyRequests);
        assert_eq!(refused.message, "Too Many Requests.");
        drop(release);
        busy.await.unwrap().unwrap();
        assert_eq!(
            (
                first.await.unwrap().unwrap(),
                second.await.unwrap().unwrap()
            ),
            (1, 2)
        );
        // Room again once the queue drained.
        assert_eq!(p.enqueue(|_| Ok(4)).unwrap().await.unwrap().unwrap(), 4);
    }

    #[tokio::test]
    async fn a_job_whose_caller_has_gone_never_runs() {
        let p = Passwords::with_queue(1, 8);
        let (release, busy) = block_the_worker(&p);
        let ran = Arc::new(AtomicUsize::new(0));
        let counter = ran.clone();
        let queued = p
            .enqueue(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();
        // The request is cancelled while its hash waits: its future, and the receiver, go.
        drop(queued);
        let after = p.enqueue(|_| Ok(())).unwrap();
        drop(release);
        busy.await.unwrap().unwrap();
        after.await.unwrap().unwrap();
        // The worker takes jobs in order: the abandoned one came before `after`.
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn debug_never_prints_the_password() {
        assert_eq!(format!("{:?}", pw("hunter2")), "Password(***)");
    }
}
