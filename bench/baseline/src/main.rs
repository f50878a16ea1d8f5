//! `bench-baseline`: the floor of the benchmark.
//!
//! A plain axum server that answers every GET with a fixed JSON body read from a file at
//! startup (the run script gives it sessiond's own answer to `GET /api/v2/users/me/session`,
//! so the bytes on the wire are the same). Whatever sessiond spends above this server is the
//! price of its session check, its store and its middleware.

use std::path::PathBuf;

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::header::{CONTENT_TYPE, HeaderValue},
    response::IntoResponse,
    routing::get,
};
use clap::Parser;

#[derive(Parser)]
#[command(about = "Fixed-answer axum server, the floor of the sessiond benchmark")]
struct Args {
    /// Address to listen on; port 0 picks a free one (the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// File whose bytes are the body of every answer.
    #[arg(long)]
    body_file: PathBuf,
}

/// The one answer: 200, JSON content type, the file's bytes (a cheap reference-counted clone).
async fn answer(State(body): State<Bytes>) -> impl IntoResponse {
    ([(CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"))], body)
}

// Multi-threaded runtime with the default worker count (one per core), like sessiond's.
#[tokio::main]
async fn main() {
    let args = Args::parse();
    let body = std::fs::read(&args.body_file)
        .unwrap_or_else(|e| panic!("cannot read --body-file {}: {e}", args.body_file.display()));

    // `fallback_service(get(..))`: every path answers GET the same way; other methods get 405.
    let app = Router::new().fallback_service(get(answer).with_state(Bytes::from(body)));

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {}: {e}", args.listen));
    let addr = listener.local_addr().expect("bound socket has a local address");
    // First line on stdout, read by bench/run.sh (stdout is line-buffered, so it leaves now).
    println!("listening on {addr}");
    axum::serve(listener, app).await.expect("server failed");
}
