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

use clap::Parser;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};

/// The largest request body `/api` reads.
const MAX_BODY: usize = 1 << 20;

/// Serves the explorer's page on 127.0.0.1 and answers its `/api` requests natively.
#[derive(Parser, Debug)]
#[command(name = "serve")]
struct Options {
    /// The port to listen on (loopback only).
    #[arg(long, default_value_t = 8000, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// The built page (default: target/explorer at the repository root, as build-page.sh
    /// writes it); without an index.html there, the page's sources are served.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Answer 404 for explorer.wasm, so that the page uses the /api fallback.
    #[arg(long)]
    no_wasm: bool,
}

impl Options {
    /// The directory to serve: `--dir` (or the default) if it holds a page, else `web/`.
    fn page_dir(&self) -> PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = self.dir.clone().unwrap_or_else(|| root.join("target/explorer"));
        if dir.join("index.html").is_file() {
            dir
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
        }
    }
}

fn main() {
    let options = Options::parse();
    let dir = options.page_dir();
    let listener = TcpListener::bind(("127.0.0.1", options.port)).unwrap_or_else(|error| {
        eprintln!("serve: cannot listen on 127.0.0.1:{}: {error}", options.port);
        std::process::exit(1);
    });
    println!("serving {} at http://127.0.0.1:{}/", dir.display(), options.port);
    let page = std::sync::Arc::new((dir, options.no_wasm));
    for stream in listener.incoming().flatten() {
        let page = page.clone();
        std::thread::spawn(move || {
            match serve(stream, &page.0, page.1) {
                // The browser closed the connection first (a reload, a cancelled fetch).
                Err(error) if matches!(error.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {}
                Err(error) => eprintln!("serve: {error}"),
                Ok(()) => {}
            }
        });
    }
}

/// One request: `POST /api` to the engine, `GET` to a file of the page.
fn serve(stream: TcpStream, dir: &Path, no_wasm: bool) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // None for a Content-Length that is not a number: answered 400, not read as empty.
    let mut content_length = Some(0usize);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().ok();
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let mut stream = stream;
    match (method, path) {
        ("POST", "/api") => {
            let Some(content_length) = content_length else {
                return respond(&mut stream, "400 Bad Request", "text/plain", b"Content-Length is not a number");
            };
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
        ("GET" | "HEAD", _) => match file_for(dir, path) {
            Some(file) if !(no_wasm && file.extension().is_some_and(|e| e == "wasm")) => match std::fs::read(&file) {
                Ok(bytes) => respond(&mut stream, "200 OK", content_type(&file), &bytes),
                Err(_) => respond(&mut stream, "404 Not Found", "text/plain", b"not found"),
            },
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

    use clap::error::ErrorKind;

    fn flags(args: &[&str]) -> Result<Options, clap::Error> {
        Options::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
    }

    #[test]
    fn bad_flags_are_errors_naming_the_flag() {
        for (args, kind) in [
            (&["--port", "eighty"][..], ErrorKind::ValueValidation),
            (&["--port", "0"], ErrorKind::ValueValidation),
            (&["--port", "70000"], ErrorKind::ValueValidation),
            (&["--port"], ErrorKind::InvalidValue),
            (&["--colour"], ErrorKind::UnknownArgument),
        ] {
            let error = flags(args).expect_err("a bad command line");
            assert_eq!(error.kind(), kind, "{args:?}");
            assert!(error.to_string().contains(args[0]), "{args:?}: {error}");
        }
        let options = flags(&["--port", "8123", "--no-wasm"]).expect("a good command line");
        assert_eq!((options.port, options.no_wasm), (8123, true));
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
