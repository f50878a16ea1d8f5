//! One HTTP/1.1 keep-alive connection and the requests sent over it.

use std::{str::FromStr, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, StatusCode, Uri,
    client::conn::http1::SendRequest,
    header::{HOST, HeaderName, HeaderValue},
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A header given on the command line or in a headers file (`Name: value`).
#[derive(Clone, Debug, PartialEq)]
pub struct HeaderLine {
    pub name: HeaderName,
    pub value: HeaderValue,
}

impl FromStr for HeaderLine {
    type Err = String;

    /// Parses `Name: value`; the value may itself contain colons (e.g. `Basic a:b` encoded).
    fn from_str(line: &str) -> Result<Self, String> {
        let (name, value) = line.split_once(':').ok_or_else(|| format!("header line without ':': {line:?}"))?;
        let name =
            HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| format!("bad header name in {line:?}: {e}"))?;
        let value = HeaderValue::from_str(value.trim()).map_err(|e| format!("bad header value in {line:?}: {e}"))?;
        Ok(HeaderLine { name, value })
    }
}

/// Where requests go: the `host:port` to connect to and the path (with query) to ask for.
#[derive(Clone, Debug)]
pub struct Target {
    pub authority: String,
    pub path: String,
}

impl FromStr for Target {
    type Err = String;

    /// Accepts `http://host[:port]/path?query` only (the benchmark never leaves loopback).
    fn from_str(url: &str) -> Result<Self, String> {
        let uri: Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("only http:// URLs are supported: {url:?}"));
        }
        let authority = uri.authority().ok_or_else(|| format!("URL without host: {url:?}"))?;
        let port = authority.port_u16().unwrap_or(80);
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        Ok(Target { authority: format!("{}:{port}", authority.host()), path })
    }
}

/// The answer to one request: status and the whole body (read so the connection can be reused).
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum Failure {
    Connect(std::io::Error),
    Http(hyper::Error),
    Timeout,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "connect: {e}"),
            Failure::Http(e) => write!(f, "http: {e}"),
            Failure::Timeout => write!(f, "timed out"),
        }
    }
}

/// A lazily (re)opened keep-alive connection to one target.
pub struct Connection {
    authority: String,
    host: HeaderValue,
    timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    pub fn new(target: &Target, timeout: Duration) -> Self {
        // The Host header is the authority we connect to; it is always a valid header value.
        let host = HeaderValue::from_str(&target.authority).expect("authority parsed from a URI is a valid header");
        Connection { authority: target.authority.clone(), host, timeout, sender: None }
    }

    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let stream = TcpStream::connect(&self.authority).await.map_err(Failure::Connect)?;
        stream.set_nodelay(true).map_err(Failure::Connect)?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(Failure::Http)?;
        // The connection future drives the socket; it ends when the server or we close it.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends one request and reads the whole answer. On any failure the connection is dropped
    /// and the next call opens a new one (that is how server-side closes are survived).
    pub async fn send(
        &mut self,
        method: &Method,
        path: &str,
        headers: &[&HeaderLine],
        body: &Bytes,
    ) -> Result<Answer, Failure> {
        let result = tokio::time::timeout(self.timeout, self.send_inner(method, path, headers, body)).await;
        let result = result.unwrap_or(Err(Failure::Timeout));
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn send_inner(
        &mut self,
        method: &Method,
        path: &str,
        headers: &[&HeaderLine],
        body: &Bytes,
    ) -> Result<Answer, Failure> {
        let sender = match &mut self.sender {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.sender.insert(self.open().await?),
        };
        sender.ready().await.map_err(Failure::Http)?;
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = method.clone();
        // `path` came from a parsed URI (or a link we parsed), so it is a valid origin-form URI;
        // a bad one is reported as a bad request line by the server rather than panicking here.
        *request.uri_mut() = path.parse().unwrap_or_else(|_| Uri::from_static("/"));
        let map = request.headers_mut();
        map.insert(HOST, self.host.clone());
        for h in headers {
            map.append(h.name.clone(), h.value.clone());
        }
        let response = sender.send_request(request).await.map_err(Failure::Http)?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(Failure::Http)?.to_bytes();
        Ok(Answer { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_line_keeps_colons_in_value_and_trims() {
        let h: HeaderLine = "Authorization:  Basic dTpw:x ".parse().unwrap();
        assert_eq!(h.name, "authorization");
        assert_eq!(h.value, "Basic dTpw:x");
    }

    #[test]
    fn header_line_rejects_garbage() {
        assert!("no colon here".parse::<HeaderLine>().is_err());
        assert!("bad name: v".parse::<HeaderLine>().is_err());
        assert!(": v".parse::<HeaderLine>().is_err());
    }

    #[test]
    fn target_splits_authority_and_path() {
        let t: Target = "http://127.0.0.1:8080/api/v2/sessions?page%5Bsize%5D=100".parse().unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.path, "/api/v2/sessions?page%5Bsize%5D=100");
        let t: Target = "http://localhost".parse().unwrap();
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("localhost:80", "/"));
        assert!("https://x/".parse::<Target>().is_err());
    }

    #[test]
    fn target_accepts_brackets_in_query() {
        let t: Target = "http://127.0.0.1:1/api/v2/sessions?page[size]=100".parse().unwrap();
        assert_eq!(t.path, "/api/v2/sessions?page[size]=100");
    }
}
