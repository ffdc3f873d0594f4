//! Durable Objects: what an object's handler is written against, once, to run unchanged on
//! workerd (`CloudflareDurableObjectState`, wasm32 with
//! the `cloudflare` feature) and natively in simulation
//! ([`SimulatedDurableObjectState`](super::SimulatedDurableObjectState), every target).
//!
//! - [`DurableObjectState`]: the object's context, as the platform's `DurableObjectState`
//!   (`ctx` in JavaScript): its [id](DurableObjectId), its [storage](DurableObjectStorage),
//!   [`wait_until`](DurableObjectState::wait_until) and
//!   [`block_concurrency_while`](DurableObjectState::block_concurrency_while).
//! - [`DurableObjectStorage`]: the transactional key-value storage (`ctx.storage`): `get`,
//!   `put`, `delete`, `list`, `transaction` (with [`DurableObjectTransaction::rollback`]),
//!   `sync` and the object's one alarm (`set_alarm`, `get_alarm`, `delete_alarm`). Values are
//!   bytes; [`StorageValue`] encodes the common types (strings, integers, booleans).
//! - [`DurableObjectHandler`]: the events the runtime delivers to an object (`fetch`, `alarm`),
//!   for code shared by the simulation and the Worker.
//! - [`DurableObjectNamespace`]: the Worker's side, sending a request to an object by name
//!   (implemented by the simulated namespace and, on workerd, by
//!   `CloudflareDurableObjectNamespace`); [`DurableObjectMessage`] encodes what goes over the
//!   wire on workerd.
//!
//! Object safety follows [`ExecutionContext`](super::ExecutionContext): the trait's required
//! methods take and return boxed local futures, and the generic conveniences need `Self: Sized`.

use super::execution_context::LocalFuture;
use crate::SystemTime;
use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

/// A boxed local future with an output: what the object-safe methods of the Durable Object API
/// return (a Worker's futures hold JS values, so nothing here is `Send`).
pub type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// The longest key Durable Object storage accepts, in bytes (the platform's limit).
pub const MAX_KEY_BYTES: usize = 2048;

/// Identifies one Durable Object of a namespace: the platform's 64-hex-digit id, and the name
/// it was derived from when it came from `id_from_name`. Two ids are equal when their hex
/// strings are (the name is not compared, as on the platform). Displays as the hex string.
#[derive(Clone, Debug)]
pub struct DurableObjectId {
    hex: String,
    name: Option<String>,
}

impl DurableObjectId {
    /// An id from its hex string and, if it was derived from one, its name.
    pub fn new(hex: impl Into<String>, name: Option<String>) -> Self {
        Self {
            hex: hex.into(),
            name,
        }
    }

    /// The id as the platform prints it (64 hex digits).
    pub fn as_hex(&self) -> &str {
        &self.hex
    }

    /// The name the id was derived from (`id_from_name`), if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `click` for a named object, else the first 12 hex digits: short enough for a log line
    /// or a timeline track.
    pub fn short(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.hex.chars().take(12).collect(),
        }
    }
}

impl PartialEq for DurableObjectId {
    fn eq(&self, other: &Self) -> bool {
        self.hex == other.hex
    }
}

impl Eq for DurableObjectId {}

impl std::hash::Hash for DurableObjectId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.hex.hash(state);
    }
}

impl PartialOrd for DurableObjectId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DurableObjectId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.hex.cmp(&other.hex)
    }
}

impl fmt::Display for DurableObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex)
    }
}

/// Why an event of a Durable Object (a `fetch`, an `alarm`) failed, or why
/// [`block_concurrency_while`](DurableObjectState::block_concurrency_while) did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurableObjectFailure {
    /// The object was reset while the event was in flight: a storage operation failed, a
    /// `block_concurrency_while` future failed or ran past 30 seconds, or the object was reset
    /// by a fault. Its in-memory state is lost, writes not yet confirmed are discarded, and the
    /// event's response is replaced by this error (the platform's output gate).
    Reset(String),
    /// The event's handler panicked. The object is not reset (as a thrown exception on the
    /// platform); only this event fails.
    Panicked(String),
    /// No response came back to the caller (on workerd: the stub's `fetch` threw, or the object
    /// answered with an error status): the object was reset, overloaded or unreachable, or the
    /// request or the response could not be decoded. As with [`Reset`](Self::Reset), the
    /// event may have taken effect.
    Unanswered(String),
}

impl fmt::Display for DurableObjectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reset(reason) => write!(f, "the Durable Object was reset: {reason}"),
            Self::Panicked(message) => {
                write!(f, "the Durable Object's handler panicked: {message}")
            }
            Self::Unanswered(reason) => {
                write!(f, "the Durable Object did not answer: {reason}")
            }
        }
    }
}

impl Error for DurableObjectFailure {}

/// A storage operation of a Durable Object failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageError {
    /// The storage failed the operation (on workerd: the storage API threw; in simulation: an
    /// injected fault). The runtime resets the object: its events in flight fail.
    Failed(String),
    /// The operation was refused before reaching storage: a key longer than
    /// [`MAX_KEY_BYTES`], an operation on a transaction after its rollback.
    Invalid(String),
    /// The value stored under `key` could not be decoded as the type asked for.
    Decode {
        /// The key.
        key: String,
        /// What was wrong with the value.
        message: String,
    },
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(message) => write!(f, "Durable Object storage failed: {message}"),
            Self::Invalid(message) => write!(f, "invalid storage operation: {message}"),
            Self::Decode { key, message } => {
                write!(
                    f,
                    "the value stored under {key:?} cannot be decoded: {message}"
                )
            }
        }
    }
}

impl Error for StorageError {}

/// A value kept in Durable Object storage. Storage holds bytes (a `Uint8Array` on workerd);
/// this trait turns a value into bytes and back. Strings are UTF-8; integers and booleans are
/// their decimal text (`"42"`, `"true"`), readable in any storage viewer; `Vec<u8>` is stored
/// as is. Implement it for your own types (with your own serialization) to store them.
///
/// ```
/// use scheduler::cloud::StorageValue;
/// assert_eq!(42u64.to_bytes(), b"42");
/// assert_eq!(u64::from_bytes(b"42".to_vec()), Ok(42));
/// assert!(u64::from_bytes(b"forty-two".to_vec()).is_err());
/// ```
pub trait StorageValue: Sized {
    /// The bytes to store.
    fn to_bytes(&self) -> Vec<u8>;

    /// The value back from stored bytes; an error names what is wrong with them.
    fn from_bytes(bytes: Vec<u8>) -> Result<Self, String>;
}

impl StorageValue for Vec<u8> {
    fn to_bytes(&self) -> Vec<u8> {
        self.clone()
    }

    fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        Ok(bytes)
    }
}

impl StorageValue for String {
    fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        String::from_utf8(bytes).map_err(|error| format!("not UTF-8: {error}"))
    }
}

/// Decimal text for the integer types and `bool`.
macro_rules! text_value {
    ($($ty:ty),*) => {$(
        impl StorageValue for $ty {
            fn to_bytes(&self) -> Vec<u8> {
                self.to_string().into_bytes()
            }

            fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
                let text = String::from_utf8(bytes).map_err(|error| format!("not UTF-8: {error}"))?;
                text.parse::<$ty>()
                    .map_err(|error| format!("{text:?} is not a {}: {error}", stringify!($ty)))
            }
        }
    )*};
}

text_value!(u8, u16, u32, u64, i8, i16, i32, i64, usize, isize, bool);

/// Which keys [`DurableObjectStorage::list`] returns: a range, a prefix, an order and a count,
/// as the platform's `list(options)`.
///
/// ```
/// use scheduler::cloud::ListOptions;
/// let options = ListOptions::new().prefix("event:").reverse(true).limit(10);
/// assert_eq!(options.prefix.as_deref(), Some("event:"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// The first key listed (inclusive).
    pub start: Option<String>,
    /// The key the listing stops before (exclusive).
    pub end: Option<String>,
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Descending order instead of ascending (`start` and `end` keep their meaning).
    pub reverse: bool,
    /// At most this many entries.
    pub limit: Option<usize>,
}

impl ListOptions {
    /// Every key, ascending.
    pub fn new() -> Self {
        Self::default()
    }

    /// The first key listed (inclusive).
    pub fn start(mut self, key: impl Into<String>) -> Self {
        self.start = Some(key.into());
        self
    }

    /// The key the listing stops before (exclusive).
    pub fn end(mut self, key: impl Into<String>) -> Self {
        self.end = Some(key.into());
        self
    }

    /// Only keys starting with `prefix`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Descending order when `reverse` is true.
    pub fn reverse(mut self, reverse: bool) -> Self {
        self.reverse = reverse;
        self
    }

    /// At most `limit` entries.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Whether `key` is in the range and has the prefix (the order and the limit aside).
    pub fn admits(&self, key: &str) -> bool {
        self.start.as_deref().is_none_or(|start| key >= start)
            && self.end.as_deref().is_none_or(|end| key < end)
            && self
                .prefix
                .as_deref()
                .is_none_or(|prefix| key.starts_with(prefix))
    }
}

/// Checks a key against the platform's limit.
pub(crate) fn check_key(key: &str) -> Result<(), StorageError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StorageError::Invalid(format!(
            "a key is at most {MAX_KEY_BYTES} bytes; this one has {}",
            key.len()
        )));
    }
    Ok(())
}

/// Listed entries, as bytes, in order.
pub(crate) type Entries = Vec<(String, Vec<u8>)>;

/// The operations a storage and a transaction share, on bytes. Implemented by the simulation
/// and by the workerd wrapper; users go through [`DurableObjectStorage`] and
/// [`DurableObjectTransaction`].
pub(crate) trait KeyValueBackend {
    fn get(&self, key: &str) -> LocalBoxFuture<Result<Option<Vec<u8>>, StorageError>>;
    fn put(&self, key: &str, value: Vec<u8>) -> LocalBoxFuture<Result<(), StorageError>>;
    fn delete(&self, key: &str) -> LocalBoxFuture<Result<bool, StorageError>>;
    fn list(&self, options: ListOptions) -> LocalBoxFuture<Result<Entries, StorageError>>;
}

/// The body of a transaction, boxed: given the transaction, the future of its operations.
pub(crate) type TransactionBody =
    Box<dyn FnOnce(DurableObjectTransaction) -> LocalBoxFuture<Result<(), StorageError>>>;

/// A storage: the key-value operations, transactions, `sync` and the alarm.
pub(crate) trait StorageBackend: KeyValueBackend {
    fn transaction(&self, body: TransactionBody) -> LocalBoxFuture<Result<(), StorageError>>;
    fn sync(&self) -> LocalBoxFuture<Result<(), StorageError>>;
    fn get_alarm(&self) -> LocalBoxFuture<Result<Option<SystemTime>, StorageError>>;
    fn set_alarm(&self, at: SystemTime) -> LocalBoxFuture<Result<(), StorageError>>;
    fn delete_alarm(&self) -> LocalBoxFuture<Result<(), StorageError>>;
    /// The clock `set_alarm_in` counts from (virtual in simulation, `Date.now()` on workerd).
    fn now(&self) -> SystemTime;
}

/// A transaction: the key-value operations and `rollback`.
pub(crate) trait TransactionBackend: KeyValueBackend {
    fn rollback(&self) -> Result<(), StorageError>;
}

fn decode<T: StorageValue>(key: &str, bytes: Vec<u8>) -> Result<T, StorageError> {
    T::from_bytes(bytes).map_err(|message| StorageError::Decode {
        key: key.to_string(),
        message,
    })
}

/// The value under `key` in `backend`, decoded as `T`: `get` of the storage and of a
/// transaction.
async fn get_decoded<T: StorageValue, B: KeyValueBackend + ?Sized>(
    backend: &B,
    key: &str,
) -> Result<Option<T>, StorageError> {
    match backend.get(key).await? {
        Some(bytes) => decode(key, bytes).map(Some),
        None => Ok(None),
    }
}

fn decode_all<T: StorageValue>(entries: Entries) -> Result<Vec<(String, T)>, StorageError> {
    entries
        .into_iter()
        .map(|(key, bytes)| {
            let value = decode(&key, bytes)?;
            Ok((key, value))
        })
        .collect()
}

/// A Durable Object's transactional storage (`ctx.storage`). Clones share the object's storage.
///
/// Each operation is atomic. Writes (`put`, `delete`, the alarm calls) are issued when called
/// and take effect at once for the object's own reads; they are confirmed (made durable)
/// shortly after, the writes issued without an `await` in between together; a response of the object waits until the writes
/// before it are confirmed (the *output gate*), and a write that fails resets the object.
/// While the object awaits a read, no other event is delivered to it (the *input gate*). See
/// [`SimulatedDurableObjectNamespace`](super::SimulatedDurableObjectNamespace) for how each rule
/// is modelled in simulation.
#[derive(Clone)]
pub struct DurableObjectStorage {
    backend: Rc<dyn StorageBackend>,
}

impl fmt::Debug for DurableObjectStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableObjectStorage")
            .finish_non_exhaustive()
    }
}

impl DurableObjectStorage {
    pub(crate) fn new(backend: Rc<dyn StorageBackend>) -> Self {
        Self { backend }
    }

    /// The value stored under `key`, decoded as `T`; `None` if there is none.
    pub async fn get<T: StorageValue>(&self, key: &str) -> Result<Option<T>, StorageError> {
        get_decoded(&*self.backend, key).await
    }

    /// Stores `value` under `key`. The write is issued by this call, not when the returned
    /// future is first polled (as `put` in JavaScript): writes issued before an `await` are
    /// confirmed together, atomically. Awaiting the future waits for the storage operation (the
    /// input gate stays closed meanwhile); dropping it does not cancel the write.
    pub fn put<T: StorageValue>(
        &self,
        key: &str,
        value: &T,
    ) -> LocalBoxFuture<Result<(), StorageError>> {
        self.backend.put(key, value.to_bytes())
    }

    /// Deletes `key`; the future gives whether it existed. Issued by this call, like
    /// [`put`](Self::put).
    pub fn delete(&self, key: &str) -> LocalBoxFuture<Result<bool, StorageError>> {
        self.backend.delete(key)
    }

    /// The entries `options` select, decoded as `T`, in key order (descending if asked).
    pub async fn list<T: StorageValue>(
        &self,
        options: ListOptions,
    ) -> Result<Vec<(String, T)>, StorageError> {
        decode_all(self.backend.list(options).await?)
    }

    /// Runs `body` as one transaction: its operations on the [`DurableObjectTransaction`] it
    /// is given see each other and are committed together when it returns `Ok`, or not at all
    /// when it returns `Err` (that error is returned) or called
    /// [`rollback`](DurableObjectTransaction::rollback).
    pub async fn transaction<F, Fut, T>(&self, body: F) -> Result<T, StorageError>
    where
        F: FnOnce(DurableObjectTransaction) -> Fut + 'static,
        Fut: Future<Output = Result<T, StorageError>> + 'static,
        T: 'static,
    {
        let output: Rc<RefCell<Option<T>>> = Rc::default();
        let slot = output.clone();
        let body: TransactionBody = Box::new(move |transaction| {
            Box::pin(async move {
                let value = body(transaction).await?;
                *slot.borrow_mut() = Some(value);
                Ok(())
            })
        });
        self.backend.transaction(body).await?;
        let value = output.borrow_mut().take();
        value.ok_or_else(|| StorageError::Failed("the transaction's body did not run".into()))
    }

    /// Waits until every write made so far is confirmed (`storage.sync()`): await it before
    /// telling the outside world about a write by other means than a response.
    pub async fn sync(&self) -> Result<(), StorageError> {
        self.backend.sync().await
    }

    /// When the object's alarm is set for, if it is. During the alarm's own handler this is
    /// `None` unless the handler set a new one.
    pub async fn get_alarm(&self) -> Result<Option<SystemTime>, StorageError> {
        self.backend.get_alarm().await
    }

    /// Sets the object's one alarm to `at` (replacing any other): the runtime then delivers an
    /// `alarm` event at that time, at least once, retrying a failed handler with backoff. A
    /// write, issued by this call like [`put`](Self::put).
    pub fn set_alarm(&self, at: SystemTime) -> LocalBoxFuture<Result<(), StorageError>> {
        self.backend.set_alarm(at)
    }

    /// Sets the alarm `delay` from now on the runtime's clock (issued by this call).
    pub fn set_alarm_in(&self, delay: Duration) -> LocalBoxFuture<Result<(), StorageError>> {
        let at = self.backend.now() + delay;
        self.backend.set_alarm(at)
    }

    /// Deletes the alarm, if one is set (a running alarm handler is not cancelled). Issued by
    /// this call, like [`put`](Self::put).
    pub fn delete_alarm(&self) -> LocalBoxFuture<Result<(), StorageError>> {
        self.backend.delete_alarm()
    }
}

/// The storage operations of one transaction (the `txn` a transaction's body is given).
pub struct DurableObjectTransaction {
    backend: Rc<dyn TransactionBackend>,
}

impl fmt::Debug for DurableObjectTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableObjectTransaction")
            .finish_non_exhaustive()
    }
}

impl DurableObjectTransaction {
    pub(crate) fn new(backend: Rc<dyn TransactionBackend>) -> Self {
        Self { backend }
    }

    /// The value stored under `key` as this transaction sees it.
    pub async fn get<T: StorageValue>(&self, key: &str) -> Result<Option<T>, StorageError> {
        get_decoded(&*self.backend, key).await
    }

    /// Stores `value` under `key` when the transaction commits (issued by this call).
    pub fn put<T: StorageValue>(
        &self,
        key: &str,
        value: &T,
    ) -> LocalBoxFuture<Result<(), StorageError>> {
        self.backend.put(key, value.to_bytes())
    }

    /// Deletes `key` when the transaction commits (issued by this call); the future gives
    /// whether it exists now.
    pub fn delete(&self, key: &str) -> LocalBoxFuture<Result<bool, StorageError>> {
        self.backend.delete(key)
    }

    /// The entries `options` select, as this transaction sees them.
    pub async fn list<T: StorageValue>(
        &self,
        options: ListOptions,
    ) -> Result<Vec<(String, T)>, StorageError> {
        decode_all(self.backend.list(options).await?)
    }

    /// Discards every change of the transaction: nothing is committed, and any later operation
    /// on it fails with [`StorageError::Invalid`].
    pub fn rollback(&self) -> Result<(), StorageError> {
        self.backend.rollback()
    }
}

/// What the runtime tells an alarm handler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlarmInfo {
    /// How many times this alarm was retried before this run (0 on its first run); `None` when
    /// the runtime does not say (workers-rs 0.8.7's `alarm()` passes nothing).
    pub retry_count: Option<u32>,
}

impl AlarmInfo {
    /// Whether this run is a retry of a failed one (false when unknown).
    pub fn is_retry(&self) -> bool {
        self.retry_count.is_some_and(|count| count > 0)
    }
}

/// A Durable Object's context, as the platform's `DurableObjectState` (`ctx` in JavaScript):
/// its id, its storage, `waitUntil` and `blockConcurrencyWhile`.
///
/// Handler code is written against this trait so it runs unchanged on workerd
/// (`CloudflareDurableObjectState`, wrapping workers-rs's
/// `State`) and natively, in simulation
/// ([`SimulatedDurableObjectState`](super::SimulatedDurableObjectState)).
///
/// ```
/// use scheduler::cloud::{DurableObjectState, StorageError};
///
/// /// Adds one to the object's count and returns it: written once, run on both.
/// async fn increment(state: &dyn DurableObjectState) -> Result<u64, StorageError> {
///     let storage = state.storage();
///     let count = storage.get::<u64>("count").await?.unwrap_or(0) + 1;
///     storage.put("count", &count).await?;
///     Ok(count)
/// }
/// ```
pub trait DurableObjectState {
    /// The object's id.
    fn id(&self) -> DurableObjectId;

    /// The object's storage.
    fn storage(&self) -> DurableObjectStorage;

    /// Keeps the current event's work going after its response, until `future` settles
    /// (`ctx.waitUntil`). The object-safe form of [`wait_until`](Self::wait_until).
    fn wait_until_boxed(&self, future: LocalFuture);

    /// Runs `future` while no other event is delivered to the object
    /// (`ctx.blockConcurrencyWhile`): the gate closes at this call, so calling it from the
    /// constructor without awaiting it holds back every event until initialization is done.
    /// If `future` fails (or runs past 30 seconds), the object is reset. The object-safe form
    /// of [`block_concurrency_while`](Self::block_concurrency_while).
    fn block_concurrency_while_boxed(
        &self,
        future: LocalBoxFuture<Result<(), String>>,
    ) -> LocalBoxFuture<Result<(), DurableObjectFailure>>;

    /// Keeps the current event's work going after its response, until `future` settles
    /// (`ctx.waitUntil`).
    #[track_caller]
    fn wait_until<F>(&self, future: F)
    where
        F: Future<Output = ()> + 'static,
        Self: Sized,
    {
        self.wait_until_boxed(Box::pin(future));
    }

    /// Runs `future` while no other event is delivered to the object, and returns its value
    /// (`ctx.blockConcurrencyWhile`). The gate closes at this call: the returned future only
    /// observes completion, so it may be dropped (the constructor idiom). If `future` returns
    /// `Err` (or runs past 30 seconds), the object is reset and this returns
    /// [`DurableObjectFailure::Reset`].
    fn block_concurrency_while<F, T, E>(
        &self,
        future: F,
    ) -> impl Future<Output = Result<T, DurableObjectFailure>> + 'static
    where
        F: Future<Output = Result<T, E>> + 'static,
        T: 'static,
        E: fmt::Display,
        Self: Sized,
    {
        let output: Rc<RefCell<Option<T>>> = Rc::default();
        let slot = output.clone();
        let done = self.block_concurrency_while_boxed(Box::pin(async move {
            let value = future.await.map_err(|error| error.to_string())?;
            *slot.borrow_mut() = Some(value);
            Ok(())
        }));
        async move {
            done.await?;
            let value = output.borrow_mut().take();
            value.ok_or_else(|| {
                DurableObjectFailure::Reset("block_concurrency_while's future did not run".into())
            })
        }
    }
}

impl<S: DurableObjectState + ?Sized> DurableObjectState for &S {
    fn id(&self) -> DurableObjectId {
        (**self).id()
    }

    fn storage(&self) -> DurableObjectStorage {
        (**self).storage()
    }

    #[track_caller]
    fn wait_until_boxed(&self, future: LocalFuture) {
        (**self).wait_until_boxed(future);
    }

    fn block_concurrency_while_boxed(
        &self,
        future: LocalBoxFuture<Result<(), String>>,
    ) -> LocalBoxFuture<Result<(), DurableObjectFailure>> {
        (**self).block_concurrency_while_boxed(future)
    }
}

impl<S: DurableObjectState + ?Sized> DurableObjectState for Rc<S> {
    fn id(&self) -> DurableObjectId {
        (**self).id()
    }

    fn storage(&self) -> DurableObjectStorage {
        (**self).storage()
    }

    #[track_caller]
    fn wait_until_boxed(&self, future: LocalFuture) {
        (**self).wait_until_boxed(future);
    }

    fn block_concurrency_while_boxed(
        &self,
        future: LocalBoxFuture<Result<(), String>>,
    ) -> LocalBoxFuture<Result<(), DurableObjectFailure>> {
        (**self).block_concurrency_while_boxed(future)
    }
}

/// The events the runtime delivers to a Durable Object: what a simulated namespace
/// ([`SimulatedDurableObjectNamespace`](super::SimulatedDurableObjectNamespace)) calls, and
/// what a Worker's `#[durable_object]` struct forwards workers-rs's `fetch` and `alarm` to, so
/// the object's logic is written once.
///
/// `Request` and `Response` are the app's own types (in a Worker, the glue converts
/// `worker::Request` and `worker::Response` to and from them).
#[allow(async_fn_in_trait)] // Nothing is Send in a Worker.
pub trait DurableObjectHandler: 'static {
    /// What a `fetch` event carries.
    type Request: 'static;
    /// What it answers.
    type Response: 'static;

    /// Handles one `fetch` event.
    async fn fetch(&self, request: Self::Request) -> Self::Response;

    /// Handles the object's alarm. An `Err` (or a panic) makes the runtime retry it with
    /// backoff. The default fails: an object that sets an alarm implements this.
    async fn alarm(&self, alarm: AlarmInfo) -> Result<(), String> {
        let _ = alarm;
        Err("this Durable Object has no alarm handler".into())
    }
}

/// A request sent to a Durable Object, or its response, as bytes: what a namespace on workerd
/// (`CloudflareDurableObjectNamespace`) puts in the body of the `fetch` it sends the object,
/// and what the object's glue (`CloudflareDurableObjectState::serve_fetch`) decodes, and back.
/// In simulation the values are handed over as they are, so nothing is encoded.
///
/// Implement it for the app's own request and response types, with the serialization the app
/// already uses (the library does not depend on `serde`); `String` (UTF-8) and `Vec<u8>` (as
/// is) come with it.
///
/// ```
/// use scheduler::cloud::DurableObjectMessage;
/// let message = "increment".to_string();
/// assert_eq!(String::from_bytes(message.to_bytes()), Ok(message));
/// assert!(String::from_bytes(vec![0xff]).is_err());
/// ```
pub trait DurableObjectMessage: Sized {
    /// The bytes to send.
    fn to_bytes(&self) -> Vec<u8>;

    /// The value back from the bytes received; an error names what is wrong with them.
    fn from_bytes(bytes: Vec<u8>) -> Result<Self, String>;
}

impl DurableObjectMessage for Vec<u8> {
    fn to_bytes(&self) -> Vec<u8> {
        self.clone()
    }

    fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        Ok(bytes)
    }
}

impl DurableObjectMessage for String {
    fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        String::from_utf8(bytes).map_err(|error| format!("not UTF-8: {error}"))
    }
}

/// The Worker's side of a Durable Object class (its binding, `env.COUNTER` in JavaScript):
/// sends a request to one of its objects, by name, and gives the object's response. Worker
/// code that talks to an object is written once against this trait and runs unchanged over
/// [`SimulatedDurableObjectNamespace`](super::SimulatedDurableObjectNamespace) natively (the
/// object's handler runs in the simulation, with its gates and faults) and over
/// `CloudflareDurableObjectNamespace` on workerd (wrapping workers-rs's `ObjectNamespace`: the
/// request goes to the object over the platform's `stub.fetch`).
///
/// Object-safe: hold it as `Rc<dyn DurableObjectNamespace<Request = R, Response = S>>` to keep
/// the platform out of the app's types.
///
/// **A failure does not mean the event had no effect.** The object may have applied the
/// request's writes and been reset before its response reached the caller (a failed write, an
/// overload, an injected reset). Never retry a request that is not idempotent blindly: give it
/// a key the object records in the same write as its effect, and have the object check that key
/// first (so a retry of a request that took effect answers without applying it again).
///
/// ```
/// use scheduler::TestScheduler;
/// use scheduler::cloud::{
///     DurableObjectHandler, DurableObjectNamespace, DurableObjectState,
///     SimulatedDurableObjectNamespace, SimulatedExecutionContext,
/// };
/// use std::rc::Rc;
///
/// struct Counter<S: DurableObjectState>(S);
///
/// impl<S: DurableObjectState + 'static> DurableObjectHandler for Counter<S> {
///     type Request = u64; // how much to add
///     type Response = Result<u64, String>;
///     async fn fetch(&self, add: u64) -> Result<u64, String> {
///         let storage = self.0.storage();
///         let count = storage.get::<u64>("count").await.map_err(|e| e.to_string())?;
///         let count = count.unwrap_or(0) + add;
///         storage.put("count", &count).await.map_err(|e| e.to_string())?;
///         Ok(count)
///     }
/// }
///
/// /// Worker code, written once: the namespace is simulated here, the real binding on workerd.
/// async fn add(
///     counters: &dyn DurableObjectNamespace<Request = u64, Response = Result<u64, String>>,
///     name: &str,
///     add: u64,
/// ) -> Result<u64, String> {
///     counters.send(name, add).await.map_err(|failure| failure.to_string())?
/// }
///
/// let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(7));
/// let counters = Rc::new(SimulatedDurableObjectNamespace::new(&ctx, "Counter", Counter));
/// assert_eq!(ctx.block(add(&*counters, "click", 2)), Ok(2));
/// assert_eq!(ctx.block(add(&*counters, "click", 3)), Ok(5));
/// assert_eq!(ctx.block(add(&*counters, "view", 1)), Ok(1));
/// ```
pub trait DurableObjectNamespace {
    /// What a request to an object carries.
    type Request: 'static;
    /// What the object answers.
    type Response: 'static;

    /// Sends `request` as a `fetch` event to the object named `name` (`getByName(name)`, then
    /// `stub.fetch`): sent by this call, not when the future is first polled, so dropping the
    /// future does not take it back. The future gives the object's response, or the
    /// [`DurableObjectFailure`] that replaced it (after which the request may still have taken
    /// effect: see the trait's docs).
    fn send(
        &self,
        name: &str,
        request: Self::Request,
    ) -> LocalBoxFuture<Result<Self::Response, DurableObjectFailure>>;
}

impl<N: DurableObjectNamespace + ?Sized> DurableObjectNamespace for &N {
    type Request = N::Request;
    type Response = N::Response;

    fn send(
        &self,
        name: &str,
        request: Self::Request,
    ) -> LocalBoxFuture<Result<Self::Response, DurableObjectFailure>> {
        (**self).send(name, request)
    }
}

impl<N: DurableObjectNamespace + ?Sized> DurableObjectNamespace for Rc<N> {
    type Request = N::Request;
    type Response = N::Response;

    fn send(
        &self,
        name: &str,
        request: Self::Request,
    ) -> LocalBoxFuture<Result<Self::Response, DurableObjectFailure>> {
        (**self).send(name, request)
    }
}
