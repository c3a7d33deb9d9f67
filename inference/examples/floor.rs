//! Benchmark floor: the smallest actix-web service (a fixed JSON answer to any request), so
//! the inference server's throughput can be put next to what the HTTP stack alone does.
//! It also accepts OTLP/HTTP posts, serving as a trace sink during the benchmark.
//!
//! `cargo run --release -p tidewatch-inference --example floor -- 127.0.0.1:9000 1`

use actix_web::{App, HttpResponse, HttpServer, web};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:9000".into());
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(1);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| {
            App::new().default_service(web::to(|_body: web::Bytes| async {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(r#"{"status":"ok"}"#)
            }))
        })
        .workers(workers)
        .bind(listen)?
        .run()
        .await
    })
}
