//! `gatehouse serve | superuser upsert | superuser delete`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use gatehouse::{AllowedOrigins, ListenerLimits, StoreConfig, open, serve_for};
use gatehouse_domain::Password;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "A self-hosted, PocketBase-compatible authentication server"
)]
struct Cli {
    /// Data directory (the SQLite database lives here).
    #[arg(long, global = true, default_value = "gh_data", env = "GATEHOUSE_DIR")]
    dir: PathBuf,
    /// Database URL: postgres://user@host/db[?schema=name] for PostgreSQL; SQLite in --dir if unset.
    #[arg(
        long,
        global = true,
        env = "GATEHOUSE_DATABASE_URL",
        hide_env_values = true
    )]
    db: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090", env = "GATEHOUSE_HTTP")]
        http: String,
        /// Connections open at once [default: 768]. Each realtime client holds one; the
        /// open-files limit (`ulimit -n`) must be above it.
        #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS")]
        max_connections: Option<usize>,
        /// Realtime clients (`/api/realtime` streams) at once [default: 512]; keep it below
        /// --max-connections so that ordinary requests still get through.
        #[arg(long, env = "GATEHOUSE_REALTIME_CLIENTS")]
        realtime_clients: Option<usize>,
        /// Realtime clients per client IP [default: 32].
        #[arg(long, env = "GATEHOUSE_REALTIME_CLIENTS_PER_IP")]
        realtime_clients_per_ip: Option<usize>,
        /// Origins whose browser apps may call the API (CORS), comma-separated, e.g.
        /// `https://app.example.com`; `*` for every origin (PocketBase's default).
        #[arg(long, default_value = "*", env = "GATEHOUSE_ORIGINS")]
        origins: String,
    },
    /// Manage superusers from the server's shell.
    Superuser {
        #[command(subcommand)]
        action: SuperuserAction,
    },
    /// Manage the server key (stop every instance first; see the README).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Put a new key first in the data dir's key file and re-encrypt every stored secret with
    /// it; older keys stay to check codes hashed under them. With GATEHOUSE_ENCRYPTION_KEY, put
    /// the new key first there yourself, then run this to re-encrypt.
    Rotate,
    /// Print a new random key (64 hex characters) for GATEHOUSE_ENCRYPTION_KEY.
    Generate,
}

#[derive(Subcommand)]
enum SuperuserAction {
    /// Create a superuser, or set a new password for an existing one.
    Upsert {
        email: String,
        /// The password; `-` or none: one line read from stdin (kept out of the shell history
        /// and the process list).
        password: Option<String>,
    },
    /// Delete a superuser (the last one cannot be deleted).
    Delete { email: String },
    /// Remove every second factor of a record (a superuser who lost their authenticator; the
    /// API refuses this for superusers).
    ResetMfa {
        email: String,
        /// The auth collection of the record.
        #[arg(long, default_value = "_superusers")]
        collection: String,
    },
}

fn main() -> anyhow::Result<()> {
    init_logging();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = StoreConfig {
        data_dir: cli.dir.clone(),
        db_url: cli.db.clone(),
    };
    match cli.command {
        Command::Keys {
            action: KeysAction::Generate,
        } => {
            println!("{}", gatehouse::new_key_hex());
            return Ok(());
        }
        Command::Keys {
            action: KeysAction::Rotate,
        } => {
            let done = gatehouse::rotate_keys(&config).await?;
            println!(
                "{} server key {}; re-encrypted {} TOTP secret(s){}{}.",
                if done.created {
                    "New"
                } else {
                    "Finished rotating to"
                },
                done.new_key_id,
                done.resealed.totp_secrets,
                if done.resealed.smtp_password {
                    " and the SMTP password"
                } else {
                    ""
                },
                match done.resealed.sms_secrets {
                    0 => String::new(),
                    n => format!(" and {n} SMS credential(s)"),
                }
            );
            return Ok(());
        }
        _ => {}
    }
    let gh = open(&config).await.context("opening the database")?;
    match cli.command {
        Command::Serve {
            http,
            max_connections,
            realtime_clients,
            realtime_clients_per_ip,
            origins,
        } => {
            let origins =
                AllowedOrigins::parse(&origins).map_err(|e| anyhow::anyhow!("--origins: {e}"))?;
            let mut limits = ListenerLimits::default();
            limits.max_connections = max_connections.unwrap_or(limits.max_connections);
            limits.realtime.max_clients = realtime_clients.unwrap_or(limits.realtime.max_clients);
            limits.realtime.max_clients_per_ip =
                realtime_clients_per_ip.unwrap_or(limits.realtime.max_clients_per_ip);
            if limits.realtime.max_clients >= limits.max_connections {
                eprintln!(
                    "Warning: --realtime-clients ({}) is not below --max-connections ({}): realtime streams can take every connection.",
                    limits.realtime.max_clients, limits.max_connections
                );
            }
            let listener = tokio::net::TcpListener::bind(&http)
                .await
                .with_context(|| format!("binding {http}"))?;
            let addr = listener.local_addr()?;
            println!(
                "Server started at http://{addr}\n├─ REST API:  http://{addr}/api/\n└─ Storage:   {}",
                describe(&config)
            );
            if gh.superuser_count().await? == 0 {
                println!(
                    "\nNo superuser yet. Create one with (it asks for the password):\n  gatehouse superuser upsert EMAIL{}",
                    dir_flag(&cli.dir)
                );
            }
            serve_for(gh, listener, shutdown_signal(), limits, origins).await
        }
        Command::Superuser {
            action: SuperuserAction::Upsert { email, password },
        } => {
            let password = match password {
                Some(given) if given != "-" => given,
                _ => password_from_stdin()?,
            };
            let created = gh
                .upsert_superuser(&email, &Password(password))
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            println!(
                "{} superuser {email}.",
                if created {
                    "Created"
                } else {
                    "Updated the password of"
                }
            );
            Ok(())
        }
        Command::Superuser {
            action: SuperuserAction::Delete { email },
        } => {
            gh.delete_superuser(&email)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("Deleted superuser {email}.");
            Ok(())
        }
        Command::Superuser {
            action: SuperuserAction::ResetMfa { email, collection },
        } => {
            let found = gh
                .reset_mfa_by_email(&collection, &email)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            if !found {
                anyhow::bail!("no record with email {email} in {collection}");
            }
            println!("Removed every second factor of {email} ({collection}).");
            Ok(())
        }
        Command::Keys { .. } => Ok(()),
    }
}

/// One line of stdin, without its line ending.
fn password_from_stdin() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    if std::io::stdin().is_terminal() {
        eprint!("Password: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        anyhow::bail!("no password on stdin");
    }
    Ok(password.to_owned())
}

fn describe(config: &StoreConfig) -> String {
    match &config.db_url {
        Some(_) => "PostgreSQL (--db)".to_owned(),
        None => format!("SQLite in {}", config.data_dir.join("data.db").display()),
    }
}

fn dir_flag(dir: &std::path::Path) -> String {
    if dir == gatehouse::default_data_dir() {
        String::new()
    } else {
        format!(" --dir {}", dir.display())
    }
}

/// Logs go to stderr; `GATEHOUSE_LOG` (e.g. `debug`, `gatehouse_domain=trace`) sets the level.
/// Colours only on a terminal: in a file or a log collector the escape codes are noise (and
/// writing them costs as much as the rest of an audit line).
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
