//! Serves the explorer's page on localhost, and answers its `/api` requests with the engine
//! run natively: the page's fallback when `explorer.wasm` is absent or cannot be loaded.
//!
//! Run: `cargo run -p wengert-explorer --example serve -- [--port 8000] [--dir DIR] [--no-wasm]`
//!
//! `--dir` is the built page (default `target/explorer` at the repository root, as
//! `crates/wengert-explorer/build-page.sh` writes it); if it holds no `index.html`, the
//! page's sources (`crates/wengert-explorer/web`) are served, and the page uses `/api`.
//! `--no-wasm` answers 404 for `explorer.wasm`, to try the fallback. std only, one thread
//! per connection, loopback only.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};

/// The largest request body `/api` reads.
const MAX_BODY: usize = 1 << 20;

/// A command line that cannot be used, named by its flag.
#[derive(Debug, PartialEq)]
enum FlagError {
    Unknown(String),
    MissingValue(&'static str),
    BadPort(String),
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagError::Unknown(flag) => write!(f, "unknown argument {flag:?}"),
            FlagError::MissingValue(flag) => write!(f, "{flag} needs a value"),
            FlagError::BadPort(value) => write!(f, "--port: {value:?} is not a port number (1-65535)"),
        }
    }
}

struct Options {
    port: u16,
    dir: PathBuf,
    no_wasm: bool,
}

fn parse_flags(args: impl Iterator<Item = String>) -> Result<Options, FlagError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = Options { port: 8000, dir: root.join("target/explorer"), no_wasm: false };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or(FlagError::MissingValue("--port"))?;
                options.port = value.parse().ok().filter(|&p| p != 0).ok_or(FlagError::BadPort(value))?;
            }
            "--dir" => options.dir = PathBuf::from(args.next().ok_or(FlagError::MissingValue("--dir"))?),
            "--no-wasm" => options.no_wasm = true,
            other => return Err(FlagError::Unknown(other.to_string())),
        }
    }
    if !options.dir.join("index.html").is_file() {
        options.dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    }
    Ok(options)
}

fn main() {
    let options = parse_flags(std::env::args().skip(1)).unwrap_or_else(|error| {
        eprintln!("serve: {error}\nusage: cargo run -p wengert-explorer --example serve -- [--port N] [--dir DIR] [--no-wasm]");
        std::process::exit(2);
    });
    let listener = TcpListener::bind(("127.0.0.1", options.port)).unwrap_or_else(|error| {
        eprintln!("serve: cannot listen on 127.0.0.1:{}: {error}", options.port);
        std::process::exit(1);
    });
    println!("serving {} at http://127.0.0.1:{}/", options.dir.display(), options.port);
    let options = std::sync::Arc::new(options);
    for stream in listener.incoming().flatten() {
        let options = options.clone();
        std::thread::spawn(move || {
            if let Err(error) = serve(stream, &options) {
                eprintln!("serve: {error}");
            }
        });
    }
}

/// One request: `POST /api` to the engine, `GET` to a file of the page.
fn serve(stream: TcpStream, options: &Options) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut content_length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let mut stream = stream;
    match (method, path) {
        ("POST", "/api") => {
            if content_length > MAX_BODY {
                return respond(&mut stream, "413 Payload Too Large", "text/plain", b"request too large");
            }
            let mut body = vec![0u8; content_length];
            reader.read_exact(&mut body)?;
            let request = String::from_utf8_lossy(&body).into_owned();
            match std::panic::catch_unwind(|| wengert_explorer::handle(&request)) {
                Ok(answer) => respond(&mut stream, "200 OK", "application/json", answer.as_bytes()),
                Err(_) => respond(&mut stream, "500 Internal Server Error", "text/plain", b"the engine panicked"),
            }
        }
        ("GET" | "HEAD", _) => match file_for(&options.dir, path) {
            Some(file) if !(options.no_wasm && file.extension().is_some_and(|e| e == "wasm")) => {
                match std::fs::read(&file) {
                    Ok(bytes) => respond(&mut stream, "200 OK", content_type(&file), &bytes),
                    Err(_) => respond(&mut stream, "404 Not Found", "text/plain", b"not found"),
                }
            }
            _ => respond(&mut stream, "404 Not Found", "text/plain", b"not found"),
        },
        _ => {
            respond(&mut stream, "405 Method Not Allowed", "text/plain", b"GET for the page, POST /api for the engine")
        }
    }
}

/// The file a URL path names inside `dir`, never outside it.
fn file_for(dir: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path.trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let file = if path == "/" { dir.join("index.html") } else { dir.join(relative) };
    file.is_file().then_some(file)
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Result<Options, FlagError> {
        parse_flags(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn bad_flags_are_typed_errors() {
        assert_eq!(flags(&["--port", "eighty"]).err(), Some(FlagError::BadPort("eighty".into())));
        assert_eq!(flags(&["--port", "0"]).err(), Some(FlagError::BadPort("0".into())));
        assert_eq!(flags(&["--port"]).err(), Some(FlagError::MissingValue("--port")));
        assert_eq!(flags(&["--colour"]).err(), Some(FlagError::Unknown("--colour".into())));
        assert_eq!(flags(&["--port", "8123", "--no-wasm"]).map(|o| (o.port, o.no_wasm)).ok(), Some((8123, true)));
    }

    #[test]
    fn paths_stay_inside_the_page() {
        let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        assert_eq!(file_for(&web, "/"), Some(web.join("index.html")));
        assert_eq!(file_for(&web, "/explorer.js"), Some(web.join("explorer.js")));
        assert_eq!(file_for(&web, "/../Cargo.toml"), None);
        assert_eq!(file_for(&web, "/nothing.txt"), None);
    }
}
