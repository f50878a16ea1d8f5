//! The `sessiond` command: `serve`, and offline bootstrapping against the same database.

use clap::{Args, Parser, Subcommand};
use sessiond::clock::{Clock, SystemClock};
use sessiond::config::{Config, parse_public_url};
use sessiond::domain::secret::{PasswordHasherConfig, new_secret};
use sessiond::domain::time::format_timestamp;
use sessiond::domain::user::{validate_name, validate_password};
use sessiond::domain::{Email, Role};
use sessiond::store::{self, Keyset, NewUser, Scope, SharedStore, Sort};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "sessiond",
    version,
    about = "Self-hosted session service, wire-compatible with the Zendesk Sessions API"
)]
struct Cli {
    /// Database URL: sqlite://PATH (created if missing) or postgres://…
    #[arg(long, global = true, env = "SESSIOND_DATABASE_URL", default_value = "sqlite://sessiond.db")]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Inspect and revoke sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Fill the database with users and sessions for the benchmark (bench/run.sh).
    #[command(hide = true)]
    BenchSeed(SeedArgs),
}

#[derive(Args)]
struct SeedArgs {
    /// Sessions in all (live ones and the bulk user's included).
    #[arg(long, default_value_t = 1_000_000)]
    sessions: u64,
    /// Sessions whose tokens are written to cookies.txt, each of its own user.
    #[arg(long, default_value_t = 10_000)]
    live: u64,
    /// Sessions of one extra user, for the bulk-delete scenario.
    #[arg(long, default_value_t = 100_000)]
    bulk_user_sessions: u64,
    /// API tokens and OAuth tokens to write out.
    #[arg(long, default_value_t = 1_000)]
    tokens: u64,
    /// Directory for the credential files.
    #[arg(long)]
    out: std::path::PathBuf,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SESSIOND_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Public base URL written into `url` fields and links (e.g. https://sessions.example.com).
    /// Default: the scheme, host and port each request used. An https URL makes cookies Secure.
    #[arg(long, env = "SESSIOND_PUBLIC_URL")]
    public_url: Option<String>,
    /// Refuse `Basic email:password` on the API.
    #[arg(long, env = "SESSIOND_DISABLE_PASSWORD_AUTH")]
    disable_password_auth: bool,
    /// Answer single-session shows as {"session":[{…}]} (for SDKs generated from the vendor's OpenAPI file).
    #[arg(long, env = "SESSIOND_SESSION_AS_ARRAY")]
    session_as_array: bool,
    /// Seconds: last_seen_at moves only when the stored value is at least this old.
    #[arg(long, env = "SESSIOND_ACTIVITY_RESOLUTION", default_value_t = 60, value_parser = clap::value_parser!(i64).range(0..=86_400))]
    activity_resolution: i64,
    /// API requests per user per minute.
    #[arg(long, env = "SESSIOND_RATE_LIMIT", default_value_t = 700)]
    rate_limit: u32,
    /// Address of a reverse proxy whose X-Forwarded-For header is believed (repeatable;
    /// the environment variable takes a comma-separated list). Requests from any other
    /// address are taken to come from that address.
    #[arg(long = "trusted-proxy", value_name = "ADDR", env = "SESSIOND_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<IpAddr>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. With --password-stdin the password is read from standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, agent or end-user
        #[arg(long, default_value = "end-user")]
        role: String,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user; prints the token alone on the last line.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        description: String,
    },
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// List stored sessions (oldest first).
    List {
        /// Only this user's sessions.
        #[arg(long)]
        user: Option<i64>,
    },
    /// Revoke one session (--id) or every session of a user (--user).
    #[command(group(clap::ArgGroup::new("which").required(true).args(["id", "user"])))]
    Revoke {
        /// The session's id.
        #[arg(long)]
        id: Option<i64>,
        /// A user's id: revoke every session of that user.
        #[arg(long)]
        user: Option<i64>,
    },
}

/// mimalloc: the request path allocates many small, short-lived objects; glibc's allocator
/// spent ~15% of a session check's CPU in malloc/free (perf, BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit` in mimalloc v2's `mi_option_e` (not exported by
/// libmimalloc-sys). Left at its Linux default, the whole arena is committed up front and
/// memory freed into it stays resident: an idle server kept ~13 MB of freed start-up memory
/// (mostly the 19 MiB Argon2 block of the dummy hash). Committed on demand, it is returned.
#[cfg(target_os = "linux")]
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Runs before `main` (and before Rust's runtime allocates anything), when mimalloc has not
/// reserved its first arena yet; an option set in `main` would come too late for it.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static COMMIT_ARENAS_ON_DEMAND: extern "C" fn() = commit_arenas_on_demand;

#[cfg(target_os = "linux")]
extern "C" fn commit_arenas_on_demand() {
    // SAFETY: mi_option_set takes two integers and may be called at any time, from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SESSIOND_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("SESSIOND_LOG_FORMAT").is_ok_and(|v| v == "json");
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => serve(cli.database_url, args).await,
        Command::User(UserCommand::Add { email, name, role, password_stdin }) => {
            let store = store::open(&cli.database_url).await?;
            let result = user_add(&store, &email, &name, &role, password_stdin).await;
            store.close().await;
            result
        }
        Command::Token(TokenCommand::Add { email, description }) => {
            let store = store::open(&cli.database_url).await?;
            let result = token_add(&store, &email, &description).await;
            store.close().await;
            result
        }
        Command::BenchSeed(args) => {
            let store = store::open(&cli.database_url).await?;
            let plan = sessiond::seed::SeedPlan {
                sessions: args.sessions,
                live: args.live,
                bulk_user_sessions: args.bulk_user_sessions,
                tokens: args.tokens,
            };
            let result = sessiond::seed::seed(&store, &plan, &args.out, SystemClock.now()).await;
            store.close().await;
            println!("{}", result?);
            Ok(())
        }
        Command::Sessions(cmd) => {
            let store = store::open(&cli.database_url).await?;
            let result = sessions(&store, cmd).await;
            store.close().await;
            result
        }
    }
}

async fn serve(database_url: String, args: ServeArgs) -> Result<(), String> {
    let public_url = args.public_url.as_deref().map(parse_public_url).transpose()?;
    let config = Config {
        listen: args.listen,
        public_url,
        database_url,
        disable_password_auth: args.disable_password_auth,
        session_as_array: args.session_as_array,
        activity_resolution: args.activity_resolution,
        rate_limit: args.rate_limit,
        trusted_proxies: args.trusted_proxies.iter().map(IpAddr::to_canonical).collect(),
        ..Config::default()
    };
    let store = store::open(&config.database_url).await?;
    if store.count_users().await.map_err(|e| e.to_string())? == 0 {
        tracing::warn!(
            "the database has no users yet; create the first admin with: \
             echo 'a-long-password' | sessiond user add --email admin@example.com --name Admin --role admin --password-stdin --database-url {} \
             (or `cargo run --release -q -- user add …` from the source tree)",
            store::redact_url(&config.database_url)
        );
    }
    let shutdown = sessiond::server::shutdown_signal();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %local, database = %store::redact_url(&config.database_url), "sessiond listening");
    let state = sessiond::AppState::new(config, store, Arc::new(SystemClock))?;
    // Start-up (migrations, pools) freed what it used; give it back to the system now
    // rather than at mimalloc's next allocation-driven purge, so an idle server stays small.
    // SAFETY: mi_collect takes a plain bool and may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
    sessiond::server::serve(listener, state, shutdown).await.map_err(|e| e.to_string())
}

async fn user_add(
    store: &SharedStore,
    email: &str,
    name: &str,
    role: &str,
    password_stdin: bool,
) -> Result<(), String> {
    let email = Email::parse(email).map_err(|e| format!("--email {e}"))?;
    let name = validate_name(name).map_err(|e| format!("--name {e}"))?;
    let role = Role::parse(role).ok_or_else(|| format!("--role must be admin, agent or end-user, not {role:?}"))?;
    let password_hash = if password_stdin {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input).map_err(|e| format!("cannot read the password: {e}"))?;
        let password = input.lines().next().unwrap_or("").to_owned();
        validate_password(&password).map_err(|e| format!("the password {e}"))?;
        let defaults = Config::default();
        let hasher = PasswordHasherConfig::new(defaults.argon2_m_cost, defaults.argon2_t_cost)?;
        Some(tokio::task::spawn_blocking(move || hasher.hash(&password)).await.map_err(|e| e.to_string())??)
    } else {
        None
    };
    let user = store
        .create_user(NewUser { name, email: email.as_str().to_owned(), role, password_hash }, SystemClock.now())
        .await
        .map_err(|e| match e {
            store::StoreError::Conflict(_) => format!("a user with email {} already exists", email.as_str()),
            other => other.to_string(),
        })?;
    println!("created user {} <{}> ({}) with id {}", user.name, user.email, user.role.as_str(), user.id);
    Ok(())
}

async fn token_add(store: &SharedStore, email: &str, description: &str) -> Result<(), String> {
    let email = Email::parse(email).map_err(|e| format!("--email {e}"))?;
    let (user, _) = store
        .user_by_email(email.as_str())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user with email {}", email.as_str()))?;
    let secret = new_secret();
    let token = store
        .create_api_token(user.id, description, &secret.digest, SystemClock.now())
        .await
        .map_err(|e| e.to_string())?;
    println!("created API token {} for {}; it is shown only once:", token.id, user.email);
    println!("{}", secret.plaintext);
    Ok(())
}

async fn sessions(store: &SharedStore, cmd: SessionsCommand) -> Result<(), String> {
    match cmd {
        SessionsCommand::List { user } => {
            let scope = user.map_or(Scope::All, Scope::User);
            // Every stored session, ended or not: the widest cut-offs.
            let cutoffs =
                sessiond::domain::Cutoffs { team_idle: i64::MIN, end_user_idle: i64::MIN, team_max_duration: i64::MIN };
            println!("{:>10} {:>10}  {:<20}  {:<20}", "id", "user_id", "authenticated_at", "last_seen_at");
            let mut after = None;
            loop {
                let page = Keyset { sort: Sort::default(), after, before: None, limit: 500 };
                let batch = store.list_sessions_keyset(scope, cutoffs, page).await.map_err(|e| e.to_string())?;
                for s in &batch {
                    println!(
                        "{:>10} {:>10}  {:<20}  {:<20}",
                        s.id,
                        s.user_id,
                        format_timestamp(s.authenticated_at),
                        format_timestamp(s.last_seen_at)
                    );
                }
                match batch.last() {
                    Some(last) if batch.len() == 500 => after = Some(store::Position { key: last.id, id: last.id }),
                    _ => break,
                }
            }
            Ok(())
        }
        SessionsCommand::Revoke { id: Some(id), .. } => {
            if store.delete_session(id).await.map_err(|e| e.to_string())? {
                println!("revoked session {id}");
                Ok(())
            } else {
                Err(format!("no session with id {id}"))
            }
        }
        SessionsCommand::Revoke { user: Some(user), .. } => {
            let n = store.delete_sessions_of_users(&[user]).await.map_err(|e| e.to_string())?;
            println!("revoked {n} session(s) of user {user}");
            Ok(())
        }
        SessionsCommand::Revoke { .. } => Err("give --id or --user".into()),
    }
}
