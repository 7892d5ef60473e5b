//! What every end-to-end suite needs: a real gateway on port 0 over a fresh
//! database, real Socket.IO clients, and tokens.

use futures::FutureExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::testing::TestDatabase;
use store::{Backend, Db};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use store::both_backends;

pub const SECRET: &str = "e2e-secret-e2e-secret-e2e-secret!";
/// How long a test waits for an event that should come.
pub const PATIENCE: Duration = Duration::from_secs(10);
/// How long a test listens for an event that should not come.
pub const QUIET: Duration = Duration::from_millis(400);

/// A gateway serving on an ephemeral port, on a runtime of its own: a
/// crash drops that runtime with everything in flight, as `kill -9` would.
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: Arc<TestDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<Result<(), gateway::GatewayError>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_on(Arc::new(TestDatabase::new(backend).await)).await
    }

    /// Start a gateway on an existing database (a restart, a second node).
    pub async fn spawn_on(db: Arc<TestDatabase>) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(
        db: Arc<TestDatabase>,
        tweak: impl FnOnce(&mut gateway::Config),
    ) -> Self {
        let mut config = gateway::Config::for_database(db.url());
        config.jwt_secret = Some(gateway::config::Secret::new(SECRET));
        // Suites run servers side by side on one PostgreSQL server (100
        // connections by default), and a crashed server's connections stay
        // open until the test process ends: keep each server's share small.
        config.db_pool_size = 6;
        tweak(&mut config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, signal) = oneshot::channel::<()>();
        let server = {
            let _inside = runtime.enter();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            runtime.spawn(gateway::serve(listener, config, signal.map(|_| ())))
        };
        let mut app = Self {
            addr,
            db,
            shutdown: Some(shutdown),
            server,
            runtime: Some(runtime),
        };
        app.wait_until_healthy().await;
        app
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn wait_until_healthy(&mut self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            if let Ok((200, _)) = self.get("/healthz", None).await {
                return;
            }
            if self.server.is_finished() {
                let outcome = (&mut self.server).await;
                panic!("the gateway stopped during start-up: {outcome:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the gateway did not become healthy");
    }

    /// A client of `user` in `tenant`, connected and greeted.
    pub async fn client(&self, tenant: &str, user: &str, role: &str) -> TestClient {
        let auth = json!({ "token": token(tenant, user, role) });
        let mut client = TestClient::connect(&self.url(), Some(auth), &[]).await;
        client.expect("connected").await;
        client
    }

    /// Stop gracefully (as on SIGTERM) and wait until stopped.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.server)
            .await
            .expect("the gateway stopped in time")
            .expect("the gateway task")
            .expect("the gateway stopped cleanly");
    }

    /// Stop abruptly: every task of the server is dropped wherever it is,
    /// with no draining and no goodbye.
    pub async fn crash(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// Number of events in the log (straight from the database).
    pub async fn event_count(&self) -> i64 {
        let db = Db::connect(self.db.url()).await.unwrap();
        let count = sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(db.pool())
            .await
            .unwrap();
        db.close().await;
        count
    }

    /// `method path` with a bearer token and an optional JSON body: (status,
    /// JSON body, or null when the body is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url()))
            .bearer_auth(bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("an HTTP answer");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POST a JSON body to `path` with a bearer token.
    pub async fn post(&self, path: &str, bearer: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, bearer, Some(body))
            .await
    }

    /// GET `path`: (status, JSON body, or null when the body is not JSON).
    pub async fn get(&self, path: &str, bearer: Option<&str>) -> reqwest::Result<(u16, Value)> {
        let mut request = reqwest::Client::new().get(format!("{}{path}", self.url()));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A signed token; `exp` one hour ahead.
pub fn token(tenant: &str, user: &str, role: &str) -> String {
    sign(json!({
        "sub": user,
        "tenant": tenant,
        "role": role,
        "name": format!("{user} name"),
        "exp": now() + 3600,
    }))
}

pub fn sign(claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Every event a client received, in arrival order.
type Heard = Arc<std::sync::Mutex<Vec<(String, Value)>>>;

/// A real Socket.IO v5 client that records every event it receives.
pub struct TestClient {
    client: Client,
    inbox: mpsc::UnboundedReceiver<(String, Value)>,
    /// Received but not yet expected, in arrival order.
    pending: Vec<(String, Value)>,
    /// Everything received, expected or not (acks are not events).
    heard: Heard,
}

impl TestClient {
    pub async fn connect(url: &str, auth: Option<Value>, headers: &[(&str, String)]) -> Self {
        Self::connect_with(url, auth, headers, TransportType::Websocket).await
    }

    pub async fn connect_with(
        url: &str,
        auth: Option<Value>,
        headers: &[(&str, String)],
        transport: TransportType,
    ) -> Self {
        Self::try_connect(url, "/", auth, headers, transport)
            .await
            .expect("a socket.io connection")
    }

    /// A connection to `namespace` (`url` may carry a query string); the
    /// error when it is refused.
    pub async fn connect_namespace(
        url: &str,
        namespace: &str,
        auth: Option<Value>,
    ) -> Result<Self, String> {
        Self::try_connect(url, namespace, auth, &[], TransportType::Websocket).await
    }

    async fn try_connect(
        url: &str,
        namespace: &str,
        auth: Option<Value>,
        headers: &[(&str, String)],
        transport: TransportType,
    ) -> Result<Self, String> {
        let (inbox_tx, inbox) = mpsc::unbounded_channel();
        let heard = Heard::default();
        let tx = Recorder {
            inbox: inbox_tx,
            heard: heard.clone(),
        };
        let on_any = tx.clone();
        let on_error = tx.clone();
        let on_close = tx;
        let mut builder = ClientBuilder::new(url)
            .namespace(namespace)
            .transport_type(transport)
            .reconnect(false)
            .on_any(move |event, payload, _| {
                let tx = on_any.clone();
                async move {
                    tx.send(String::from(event), first(payload));
                }
                .boxed()
            })
            // rust_socketio keeps "error" apart from other events.
            .on(Event::Error, move |payload, _| {
                let tx = on_error.clone();
                async move {
                    tx.send("error".to_owned(), first(payload));
                }
                .boxed()
            })
            // The server ended the session (recorded as "close").
            .on(Event::Close, move |payload, _| {
                let tx = on_close.clone();
                async move {
                    tx.send("close".to_owned(), first(payload));
                }
                .boxed()
            });
        if let Some(auth) = auth {
            builder = builder.auth(auth);
        }
        for (name, value) in headers {
            builder = builder.opening_header(*name, value.as_str());
        }
        let client = builder.connect().await.map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            inbox,
            pending: Vec::new(),
            heard,
        })
    }

    /// Every event received so far, expected or not, in arrival order.
    pub fn heard(&self) -> Vec<(String, Value)> {
        self.heard.lock().unwrap().clone()
    }

    pub async fn emit(&self, event: &str, payload: Value) {
        self.client.emit(event, payload).await.expect("emit");
    }

    /// Emit and wait for the server's acknowledgement callback.
    pub async fn emit_with_ack(&self, event: &str, payload: Value) -> Value {
        let (tx, rx) = oneshot::channel();
        let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
        self.client
            .emit_with_ack(event, payload, PATIENCE, move |answer, _| {
                let tx = tx.clone();
                async move {
                    if let Some(tx) = tx.lock().unwrap().take() {
                        // rust_socketio hands acks over as the array of
                        // their arguments; the server answers with one.
                        let answer = match first(answer) {
                            Value::Array(mut args) if !args.is_empty() => args.remove(0),
                            other => other,
                        };
                        let _ = tx.send(answer);
                    }
                }
                .boxed()
            })
            .await
            .expect("emit with ack");
        tokio::time::timeout(PATIENCE, rx)
            .await
            .expect("an ack")
            .unwrap()
    }

    /// The next `event` (earlier events of other names stay pending).
    pub async fn expect(&mut self, event: &str) -> Value {
        self.expect_where(event, |_| true).await
    }

    /// The next `event` whose payload satisfies `pred`.
    pub async fn expect_where(&mut self, event: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(|(e, v)| e == event && pred(v)) {
            return self.pending.remove(i).1;
        }
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Ok(Some((name, value))) if name == event && pred(&value) => return value,
                Ok(Some(other)) => self.pending.push(other),
                Ok(None) => panic!(
                    "connection closed while waiting for {event}; got {:?}",
                    self.pending
                ),
                Err(_) => panic!("no {event} within {PATIENCE:?}; got {:?}", self.pending),
            }
        }
    }

    /// Assert that no `event` arrives within a short while.
    pub async fn expect_none(&mut self, event: &str) {
        let deadline = tokio::time::Instant::now() + QUIET;
        while let Ok(Some(received)) = tokio::time::timeout_at(deadline, self.inbox.recv()).await {
            self.pending.push(received);
        }
        let unexpected: Vec<_> = self.pending.iter().filter(|(e, _)| e == event).collect();
        assert!(unexpected.is_empty(), "unexpected {event}: {unexpected:?}");
    }

    /// Every `event` received so far and within a short while, in order.
    pub async fn drain(&mut self, event: &str) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + QUIET;
        while let Ok(Some(received)) = tokio::time::timeout_at(deadline, self.inbox.recv()).await {
            self.pending.push(received);
        }
        let (matching, rest): (Vec<_>, Vec<_>) =
            self.pending.drain(..).partition(|(e, _)| e == event);
        self.pending = rest;
        matching.into_iter().map(|(_, v)| v).collect()
    }

    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
    }
}

/// Hands each received event to the inbox and to the record of all.
#[derive(Clone)]
struct Recorder {
    inbox: mpsc::UnboundedSender<(String, Value)>,
    heard: Heard,
}

impl Recorder {
    fn send(&self, event: String, payload: Value) {
        self.heard
            .lock()
            .unwrap()
            .push((event.clone(), payload.clone()));
        let _ = self.inbox.send((event, payload));
    }
}

fn first(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if !values.is_empty() => values.remove(0),
        Payload::Text(_) => Value::Null,
        #[allow(deprecated)]
        Payload::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        Payload::Binary(b) => Value::String(format!("<{} bytes>", b.len())),
    }
}

/// Join a conversation and wait until the server confirms.
pub async fn join(client: &mut TestClient, tenant: &str, conversation: &str) -> Value {
    client
        .emit(
            "conversation:join",
            json!({ "conversationId": conversation, "customerId": tenant }),
        )
        .await;
    client.expect("room:joined").await
}

/// Send a message and wait for its `message:sent`.
pub async fn send(
    client: &mut TestClient,
    tenant: &str,
    conversation: &str,
    content: &str,
) -> Value {
    client
        .emit(
            "message:send",
            json!({ "conversationId": conversation, "customerId": tenant, "content": content }),
        )
        .await;
    client.expect("message:sent").await
}

/// The real `gateway` executable, built on first use in the profile these
/// tests run in.
pub fn gateway_binary() -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile>/deps/<this test> → target/<profile>/gateway
            let profile_dir = std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent()?.parent().map(std::path::Path::to_path_buf))
                .expect("the test binary lives in target/<profile>/deps");
            let mut build = std::process::Command::new(env!("CARGO"));
            build.args(["build", "--quiet", "-p", "gateway", "--bin", "gateway"]);
            if profile_dir.ends_with("release") {
                build.arg("--release");
            }
            let status = build.status().expect("cargo runs");
            assert!(status.success(), "building the gateway binary failed");
            profile_dir.join("gateway")
        })
        .clone()
}

/// The gateway binary running as a child process.
pub struct GatewayProcess {
    pub addr: SocketAddr,
    child: std::process::Child,
    /// Everything it wrote to stdout and stderr so far.
    output: Arc<std::sync::Mutex<String>>,
}

impl GatewayProcess {
    /// Start the binary with `env` (plus `PARLEY_ADDR=127.0.0.1:0`) and wait
    /// until it says where it serves.
    pub fn start(env: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let mut command = Command::new(gateway_binary());
        command
            .env_remove("DATABASE_URL")
            .env_remove("PARLEY_JWT_SECRET")
            .env("PARLEY_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("the gateway starts");
        let output = Arc::new(std::sync::Mutex::new(String::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            let addr_tx = addr_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if line.contains("serving")
                        && let Some(addr) = line.split("addr=").nth(1)
                    {
                        let _ = addr_tx.send(addr.trim().to_owned());
                    }
                    let mut all = output.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        let addr = addr_rx
            .recv_timeout(PATIENCE * 3)
            .unwrap_or_else(|_| panic!("the gateway did not start: {}", output.lock().unwrap()));
        Self {
            addr: addr.parse().expect("a socket address"),
            child,
            output,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Send SIGTERM and wait for the exit status.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "SIGTERM could not be sent");
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // Let the reader threads take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.output());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no shutdown code runs at all.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Socket.IO client at the frame level, over a real WebSocket: for
/// payloads a JSON library will not write (a lone surrogate escape, say).
/// It speaks Engine.IO v4 / Socket.IO v5 text frames on namespace `/`.
pub struct RawSocket {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl RawSocket {
    /// Open, then connect to `/` with `auth`; waits for the server's CONNECT
    /// and its `connected` greeting.
    pub async fn connect(app: &TestApp, auth: Value) -> Self {
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", app.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("a websocket");
        let mut raw = Self { ws };
        let open = raw.next_text().await;
        assert!(open.starts_with('0'), "an Engine.IO open packet: {open}");
        raw.send_text(&format!("40{auth}")).await;
        let connect = raw.next_text().await;
        assert!(connect.starts_with("40"), "a CONNECT: {connect}");
        // The greeting says the server listens: socketioxide runs the
        // connect handler (which registers the event handlers) on a task of
        // its own after sending CONNECT, so an event sent at once may find
        // no handler yet.
        raw.expect("connected").await;
        raw
    }

    /// Send one Socket.IO packet as it is written (e.g. `42["ev",{…}]`).
    pub async fn send_text(&mut self, frame: &str) {
        use futures::SinkExt;
        self.ws
            .send(tokio_tungstenite::tungstenite::Message::text(frame))
            .await
            .expect("send a frame");
    }

    /// The next text frame; answers Engine.IO pings on the way.
    async fn next_text(&mut self) -> String {
        use futures::StreamExt;
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("an open websocket")
                .expect("a frame");
            if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
                if text.as_str() == "2" {
                    self.send_text("3").await;
                    continue;
                }
                return text.as_str().to_owned();
            }
        }
    }

    /// The payload of the next event named `event` (others are skipped).
    pub async fn expect(&mut self, event: &str) -> Value {
        loop {
            let text = self.next_text().await;
            let Some(body) = text.strip_prefix("42") else {
                continue;
            };
            let packet: Value = serde_json::from_str(body).expect("an event packet");
            if packet[0] == event {
                return packet[1].clone();
            }
        }
    }
}
