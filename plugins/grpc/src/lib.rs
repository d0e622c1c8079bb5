//! A gRPC driver plugin: a blocking-style client over tonic whose calls
//! park only the calling green thread.
//!
//! # The Dify problem, and the fix
//!
//! Dify deadlocked because its gRPC driver was made cooperative before the
//! standard library under it. This plugin's one-time set-up is an
//! [`entry_point!`] for `DidPatchBuiltinModules`, ordered after the tokio
//! bridge's: greenpatch delivers it only once `time`, `thread`, `socket`
//! and `queue` are green, so it cannot run too early, and the application
//! never calls it. At that moment it checks that threads are green, makes
//! sure the bridge's tokio runtime runs (the workers that drive every
//! HTTP/2 connection), and records the run ([`plugin_runs`]).
//!
//! # Model
//!
//! A [`Client`] wraps a tonic `Grpc<Channel>` (one HTTP/2 connection,
//! multiplexing every call). Each call builds its future and hands it to
//! [`greenpatch_tokio::run`]: the tokio runtime drives the connection, the
//! calling green thread parks until the reply arrives, and the other green
//! threads of its hub run meanwhile. Messages are `prost` structs (derived
//! or hand-written), so no code generation is needed; methods are named by
//! their path (`/package.Service/Method`).
//!
//! - **Deadlines**: a call's deadline is sent to the server
//!   (`grpc-timeout`) *and* enforced here, so a server that ignores it
//!   still cannot hold the caller: the call fails with
//!   `DeadlineExceeded`. A server stream's deadline covers the whole
//!   stream.
//! - **Cancellation**: a kill of the green thread or an enclosing
//!   `with_timeout` scope aborts the tokio task, which drops the call
//!   (tonic sends `RST_STREAM`).
//! - **Failures are errors, not hangs**: a server that dies mid-call
//!   ends the call (and a stream's next message) with `Unavailable` or
//!   `Unknown`, as tonic reports the broken connection.
//!
//! [`demo`] has the messages of the demo service the tests and the Dify
//! example call, and starts its servicer (Python's `grpcio`).
//!
//! ```no_run
//! use std::time::Duration;
//! use greenpatch_grpc::{demo, Client};
//!
//! let _ = greenpatch::monkey::patch_all(Default::default()).unwrap();
//! let client = Client::connect("http://127.0.0.1:50051").unwrap();
//! let reply: demo::Reply = client
//!     .unary(demo::ECHO, demo::Req { text: "hi".into(), ..Default::default() }, Some(Duration::from_secs(5)))
//!     .unwrap();
//! assert_eq!(reply.text, "hi");
//! ```

pub mod demo;

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use greenpatch::monkey::{is_module_patched, patched_modules};
use greenpatch_plugins::{entry_point, Event, EventKind, PluginError};
use greenpatch_tokio::RunError;
use tonic::client::Grpc;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status, Streaming};
use tonic_prost::ProstCodec;

/// Why a call failed.
///
/// ```
/// let e = greenpatch_grpc::Error::from(tonic::Status::unavailable("down"));
/// assert_eq!(e.code(), Some(tonic::Code::Unavailable));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server (or the connection) answered with this status; a
    /// deadline that passed is `DeadlineExceeded`.
    Status(Status),
    /// The address is not a valid URI (`http://host:port`).
    InvalidUri(String),
    /// The connection could not be made: check that the server listens.
    Connect(tonic::transport::Error),
    /// The tokio bridge failed (could not start, or the task was cancelled).
    Bridge(RunError),
    /// A method path is not a valid `/package.Service/Method`.
    InvalidPath(String),
}

impl Error {
    /// The gRPC status code, for [`Error::Status`].
    ///
    /// ```
    /// let e = greenpatch_grpc::Error::InvalidPath("x".into());
    /// assert_eq!(e.code(), None);
    /// ```
    pub fn code(&self) -> Option<Code> {
        match self {
            Error::Status(s) => Some(s.code()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Status(s) => write!(f, "gRPC call failed: {:?}: {}", s.code(), s.message()),
            Error::InvalidUri(u) => write!(f, "not a gRPC address: {u:?} (write http://host:port)"),
            Error::Connect(e) => write!(f, "could not connect to the gRPC server: {e} (is it listening?)"),
            Error::Bridge(e) => write!(f, "{e}"),
            Error::InvalidPath(p) => write!(f, "not a gRPC method path: {p:?} (write /package.Service/Method)"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Status(s) => Some(s),
            Error::Connect(e) => Some(e),
            Error::Bridge(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Status> for Error {
    fn from(s: Status) -> Error {
        Error::Status(s)
    }
}

impl From<RunError> for Error {
    fn from(e: RunError) -> Error {
        Error::Bridge(e)
    }
}

/// A blocking-style gRPC client: each call parks only the calling green
/// thread (from plain code, the OS thread). Cheap to clone; clones share
/// the connection.
///
/// ```no_run
/// let client = greenpatch_grpc::Client::connect("http://127.0.0.1:50051").unwrap();
/// let other = client.clone(); // same HTTP/2 connection
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    grpc: Grpc<Channel>,
}

impl Client {
    /// Connects to `uri` (`http://host:port`), waiting for the connection.
    ///
    /// # Errors
    /// [`Error::InvalidUri`], [`Error::Connect`], [`Error::Bridge`].
    ///
    /// ```no_run
    /// let client = greenpatch_grpc::Client::connect("http://127.0.0.1:50051").unwrap();
    /// ```
    pub fn connect(uri: &str) -> Result<Client, Error> {
        let endpoint = endpoint(uri)?;
        let channel = greenpatch_tokio::run(async move { endpoint.connect().await })?.map_err(Error::Connect)?;
        Ok(Client { grpc: Grpc::new(channel) })
    }

    /// A client that connects at its first call (and reconnects after a
    /// broken connection).
    ///
    /// # Errors
    /// [`Error::InvalidUri`], or [`Error::Bridge`] when the runtime cannot start.
    ///
    /// ```
    /// let client = greenpatch_grpc::Client::connect_lazy("http://127.0.0.1:9").unwrap();
    /// ```
    pub fn connect_lazy(uri: &str) -> Result<Client, Error> {
        let endpoint = endpoint(uri)?;
        let handle = greenpatch_tokio::handle()?;
        let _in_tokio = handle.enter();
        Ok(Client { grpc: Grpc::new(endpoint.connect_lazy()) })
    }

    /// Calls the unary method `path` with `request`; `deadline` bounds the
    /// whole call.
    ///
    /// # Errors
    /// [`Error::Status`] with the server's status, or `DeadlineExceeded`,
    /// or `Unavailable` when the connection fails; [`Error::InvalidPath`].
    ///
    /// ```no_run
    /// use greenpatch_grpc::{demo, Client};
    /// let c = Client::connect("http://127.0.0.1:50051").unwrap();
    /// let r: demo::Reply = c.unary(demo::ECHO, demo::Req { text: "x".into(), ..Default::default() }, None).unwrap();
    /// ```
    pub fn unary<Req, Resp>(&self, path: &str, request: Req, deadline: Option<Duration>) -> Result<Resp, Error>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let path = method_path(path)?;
        let mut grpc = self.grpc.clone();
        let until = deadline.map(|d| Instant::now() + d);
        let call = async move {
            grpc.ready().await.map_err(|e| Status::unavailable(format!("connection not ready: {e}")))?;
            let reply = grpc.unary(request_with(request, deadline), path, ProstCodec::<Req, Resp>::default()).await?;
            Ok::<Resp, Status>(reply.into_inner())
        };
        Ok(greenpatch_tokio::run(within(until, call))??)
    }

    /// Calls the server-streaming method `path`; the returned iterator
    /// parks the calling green thread for each message. `deadline` bounds
    /// the whole stream.
    ///
    /// # Errors
    /// As [`Client::unary`], for the call's start; each message is a
    /// `Result` too.
    ///
    /// ```no_run
    /// use greenpatch_grpc::{demo, Client};
    /// let c = Client::connect("http://127.0.0.1:50051").unwrap();
    /// let req = demo::Req { text: "n".into(), count: 3, ..Default::default() };
    /// for reply in c.server_streaming::<_, demo::Reply>(demo::COUNT, req, None).unwrap() {
    ///     println!("{}", reply.unwrap().text);
    /// }
    /// ```
    pub fn server_streaming<Req, Resp>(
        &self,
        path: &str,
        request: Req,
        deadline: Option<Duration>,
    ) -> Result<ReplyStream<Resp>, Error>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let path = method_path(path)?;
        let mut grpc = self.grpc.clone();
        let until = deadline.map(|d| Instant::now() + d);
        let call = async move {
            grpc.ready().await.map_err(|e| Status::unavailable(format!("connection not ready: {e}")))?;
            let r = grpc
                .server_streaming(request_with(request, deadline), path, ProstCodec::<Req, Resp>::default())
                .await?;
            Ok::<Streaming<Resp>, Status>(r.into_inner())
        };
        let stream = greenpatch_tokio::run(within(until, call))??;
        Ok(ReplyStream { stream: Some(stream), until, done: false })
    }
}

/// The messages of a server stream ([`Client::server_streaming`]); each
/// `next` parks only the calling green thread. Ends after the server's
/// last message, or after the first error.
///
/// ```no_run
/// use greenpatch_grpc::{demo, Client};
/// let c = Client::connect("http://127.0.0.1:50051").unwrap();
/// let req = demo::Req { count: 2, ..Default::default() };
/// let replies: Result<Vec<demo::Reply>, _> = c.server_streaming(demo::COUNT, req, None).unwrap().collect();
/// ```
pub struct ReplyStream<T> {
    stream: Option<Streaming<T>>,
    until: Option<Instant>,
    done: bool,
}

impl<T> fmt::Debug for ReplyStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyStream").field("done", &self.done).field("until", &self.until).finish()
    }
}

impl<T: prost::Message + Default + Send + 'static> Iterator for ReplyStream<T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Result<T, Error>> {
        if self.done {
            return None;
        }
        let Some(mut stream) = self.stream.take() else {
            // An earlier wait was cancelled (kill or timeout scope) and
            // dropped the stream with its task.
            self.done = true;
            return Some(Err(Error::Status(Status::cancelled("the stream was dropped by a cancelled wait"))));
        };
        let until = self.until;
        let r = greenpatch_tokio::run(async move {
            let m = within(until, async { stream.message().await }).await;
            (stream, m)
        });
        match r {
            Ok((stream, Ok(Some(m)))) => {
                self.stream = Some(stream);
                Some(Ok(m))
            }
            Ok((_, Ok(None))) => {
                self.done = true;
                None
            }
            Ok((_, Err(s))) => {
                self.done = true;
                Some(Err(Error::Status(s)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(Error::Bridge(e)))
            }
        }
    }
}

fn endpoint(uri: &str) -> Result<Endpoint, Error> {
    Ok(Endpoint::from_shared(uri.to_owned())
        .map_err(|_| Error::InvalidUri(uri.to_owned()))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10)))
}

fn method_path(path: &str) -> Result<PathAndQuery, Error> {
    if !path.starts_with('/') || path[1..].split('/').count() != 2 {
        return Err(Error::InvalidPath(path.to_owned()));
    }
    PathAndQuery::try_from(path).map_err(|_| Error::InvalidPath(path.to_owned()))
}

fn request_with<T>(message: T, deadline: Option<Duration>) -> Request<T> {
    let mut r = Request::new(message);
    if let Some(d) = deadline {
        r.set_timeout(d);
    }
    r
}

/// How early a server's own deadline may fire before ours (its clock
/// started when it read the request).
const DEADLINE_SLACK: Duration = Duration::from_millis(100);

/// `fut`, failing with `DeadlineExceeded` at `until`.
async fn within<T, F>(until: Option<Instant>, fut: F) -> Result<T, Status>
where
    F: std::future::Future<Output = Result<T, Status>>,
{
    match until {
        None => fut.await,
        Some(u) => match tokio::time::timeout_at(u.into(), fut).await {
            // The server enforces the deadline it was sent, on its own clock:
            // it may reset the stream (CANCEL) just before ours passes.
            Ok(Err(s)) if s.code() == Code::Cancelled && Instant::now() + DEADLINE_SLACK >= u => {
                Err(Status::deadline_exceeded(format!(
                    "the call's deadline passed (the server cancelled the call: {})",
                    s.message()
                )))
            }
            Ok(r) => r,
            Err(_) => Err(Status::deadline_exceeded("the call's deadline passed")),
        },
    }
}

/// One run of the plugin ([`plugin_runs`]).
///
/// ```
/// for run in greenpatch_grpc::plugin_runs() {
///     assert!(run.threads_green);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRun {
    /// The event it ran for (always `DidPatchBuiltinModules`).
    pub event: EventKind,
    /// `is_module_patched("thread")` when it ran.
    pub threads_green: bool,
    /// Every module recorded as patched when it ran.
    pub patched_modules: Vec<&'static str>,
    /// Whether the bridge's runtime ran when the plugin finished.
    pub bridge_started: bool,
    /// When it ran.
    pub at: Instant,
}

static RUNS: Mutex<Vec<PluginRun>> = Mutex::new(Vec::new());

/// Every run of the plugin in this process, oldest first.
///
/// ```
/// assert!(greenpatch_grpc::plugin_runs().is_empty()); // nothing patched here
/// ```
pub fn plugin_runs() -> Vec<PluginRun> {
    RUNS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The plugin: at `DidPatchBuiltinModules`, with green threads, make sure
/// the bridge runs, and record the run.
fn on_patched(event: &Event<'_>) -> Result<(), PluginError> {
    let Event::DidPatchBuiltinModules(_) = event else {
        return Ok(());
    };
    let threads_green = is_module_patched("thread");
    if threads_green {
        greenpatch_tokio::start().map_err(PluginError::failed)?;
    }
    let run = PluginRun {
        event: EventKind::DidPatchBuiltinModules,
        threads_green,
        patched_modules: patched_modules(),
        bridge_started: greenpatch_tokio::is_started(),
        at: Instant::now(),
    };
    RUNS.lock().unwrap_or_else(|p| p.into_inner()).push(run);
    Ok(())
}

entry_point!(did_patch, name = "grpc", after = ["tokio-bridge"], handler = on_patched);
