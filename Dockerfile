# pollcast as a container: built with the Swift toolchain, run on a slim Debian with
# only the runtime libraries. compose.yaml runs two of these behind nginx.

FROM swift:6.3-bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        pkg-config libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libssl-dev libcap-dev \
        libsqlite3-dev libqrencode-dev libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY Sources Sources
RUN swift build -c release --product pollcast --static-swift-stdlib \
    && install -D .build/release/pollcast /out/pollcast

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libwebsockets17 libwebsockets-evlib-uv libuv1 libssl3 libsqlite3-0 libqrencode4 libpq5 \
        ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/pollcast --create-home pollcast
COPY --from=build /out/pollcast /usr/local/bin/pollcast
COPY web /usr/share/pollcast/web
USER pollcast
WORKDIR /var/lib/pollcast
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["pollcast", "serve", "--port", "8080", "--web", "/usr/share/pollcast/web"]
