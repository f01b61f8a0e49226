//! Per-call cancellation and deadlines: a [`Cancel`] handle triggered from any thread, and the
//! call context a client carries once bound to one ([`Client::with_cancel`],
//! [`Client::with_timeout`]).
//!
//! A bound client gets an HTTP agent of its own; triggering the handle shuts that agent's
//! connections down, which wakes every read or write blocked on them at once — a registry that
//! stops answering mid-body cannot hold a cancelled call. Backoff sleeps wake too.
//!
//! Those agents are leased from a small stock the client keeps: when the last client bound to a
//! handle is dropped and the handle was never triggered, the agent (with its open keep-alive
//! connections) goes back to the stock for the next bound call. A caller that binds every call
//! (Go's `context.Context`, Python's `timeout=`) so pays no new connection per call.
//!
//! [`Client::with_cancel`]: crate::Client::with_cancel
//! [`Client::with_timeout`]: crate::Client::with_timeout

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ureq::Agent;

use super::lock;
use crate::error::Error;

/// A cancellation handle. Clones share one state; [`Cancel::trigger`] may be called from any
/// thread, any number of times.
///
/// ```no_run
/// # fn main() -> ocireg::Result<()> {
/// let client = ocireg::Client::new("registry.example.com")?;
/// let cancel = ocireg::Cancel::new();
/// let stopper = cancel.clone();
/// std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_secs(5));
///     stopper.trigger();
/// });
/// match client.with_cancel(&cancel).pull_image("team/app", "v1", "./layout", &Default::default()) {
///     Err(ocireg::Error::Cancelled(why)) => println!("stopped: {why}"),
///     other => println!("{:?}", other.map(|p| p.digest)),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<CancelState>,
}

#[derive(Default)]
struct CancelState {
    triggered: AtomicBool,
    /// The agents of the clients bound to this handle (with their lease numbers), shut down on
    /// trigger.
    agents: Mutex<Vec<(u64, Agent)>>,
    /// Wakes sleepers (backoff waits) on trigger.
    woken: Condvar,
    sleep: Mutex<()>,
}

impl Cancel {
    /// A handle not yet triggered.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Cancels every call made through a client bound to this handle: they return
    /// [`Error::Cancelled`] promptly, and later calls through such a client fail at once.
    pub fn trigger(&self) {
        self.inner.triggered.store(true, Ordering::SeqCst);
        let agents = std::mem::take(&mut *lock(&self.inner.agents));
        for (_, agent) in agents {
            agent.shutdown();
        }
        let _g = lock(&self.inner.sleep);
        self.inner.woken.notify_all();
    }

    /// Whether two handles are clones of one.
    pub(crate) fn same(&self, other: &Cancel) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether [`Cancel::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// Registers an agent to shut down on trigger (at once when already triggered).
    fn attach(&self, id: u64, agent: &Agent) {
        let mut agents = lock(&self.inner.agents);
        if self.is_triggered() {
            agent.clone().shutdown();
        } else {
            agents.push((id, agent.clone()));
        }
    }

    /// Takes back the agent of lease `id`: true when it was never shut down and never will be
    /// by this handle (checked under the lock [`Cancel::trigger`] takes after setting the flag).
    fn detach(&self, id: u64) -> bool {
        let mut agents = lock(&self.inner.agents);
        if self.is_triggered() {
            return false;
        }
        agents.retain(|(i, _)| *i != id);
        true
    }

    /// Sleeps `d`, or less when triggered meanwhile; true when triggered.
    fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now().checked_add(d);
        let mut g = lock(&self.inner.sleep);
        loop {
            if self.is_triggered() {
                return true;
            }
            let left = match end {
                Some(end) => end.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return false;
            }
            g = match self.inner.woken.wait_timeout(g, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

/// Agents no bound client holds, with their idle connections, for the next bound call.
pub(crate) type AgentStock = Arc<Mutex<Vec<Agent>>>;

/// How many spare agents a client keeps.
const STOCK: usize = 4;

/// An agent lent to the clients bound to one cancel handle; dropped by the last of them, it goes
/// back to the stock unless the handle was triggered (a shut-down agent is never reused).
pub(crate) struct Lease {
    id: u64,
    agent: Agent,
    cancel: Cancel,
    stock: AgentStock,
}

impl Lease {
    fn new(cancel: &Cancel, stock: &AgentStock, recipe: &super::zerocopy::AgentRecipe) -> Lease {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let spare = lock(stock).pop();
        let agent = spare.unwrap_or_else(|| recipe.agent());
        cancel.attach(id, &agent);
        Lease {
            id,
            agent,
            cancel: cancel.clone(),
            stock: stock.clone(),
        }
    }

    /// The agent requests of the bound call go through.
    pub(crate) fn agent(&self) -> &Agent {
        &self.agent
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.cancel.detach(self.id) {
            let mut stock = lock(&self.stock);
            if stock.len() < STOCK {
                stock.push(self.agent.clone());
            }
        }
    }
}

/// What a client bound to a cancel handle or a deadline carries to each of its requests.
pub(crate) struct Call {
    pub(crate) cancel: Option<Cancel>,
    pub(crate) deadline: Option<Instant>,
    /// An agent of this call's own, when cancellable: shutting it down affects nothing else.
    pub(crate) agent: Option<Arc<Lease>>,
    /// Told of this call's retries instead of the client's callback (the C ABI routes retries
    /// of worker threads to the calling thread this way).
    pub(crate) on_retry: Option<super::RetryCallback>,
}

impl Call {
    /// A call context: with a cancel handle, an agent of its own, from `stock` or built from
    /// `recipe`.
    pub(crate) fn new(
        cancel: Option<Cancel>,
        deadline: Option<Instant>,
        stock: &AgentStock,
        recipe: &super::zerocopy::AgentRecipe,
    ) -> Call {
        let agent = cancel
            .as_ref()
            .map(|c| Arc::new(Lease::new(c, stock, recipe)));
        Call {
            cancel,
            deadline,
            agent,
            on_retry: None,
        }
    }

    /// Whether the call was cancelled.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(Cancel::is_triggered)
    }

    /// Sleeps `d` unless cancelled meanwhile; true when cancelled.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        match &self.cancel {
            Some(c) => c.sleep(d),
            None => {
                std::thread::sleep(d);
                false
            }
        }
    }

    /// `e`, or [`Error::Cancelled`] when the call was cancelled (a cancelled call's requests fail
    /// with whatever the shut-down connection gave: that is not the caller's news).
    pub(crate) fn explain(&self, e: Error) -> Error {
        match e {
            Error::Cancelled(_) => e,
            _ if self.cancelled() => Error::Cancelled("the call was cancelled".into()),
            e => e,
        }
    }
}
