# The ontime binary on a slim image. Used by docker-compose.yml.
FROM rust:1.95 AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p ontime

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/ontime /usr/local/bin/ontime
ENTRYPOINT ["/usr/local/bin/ontime"]
