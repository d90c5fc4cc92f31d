# WeChat Cloud Hosting (微信云托管): the whole shop (`shop-local`, every route on one port)
# in one small image. container.config.json beside this file holds the service settings.
# Build: docker build -t shop .   Run: docker run -p 80:80 --env-file shop.env shop
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
# The `server` profile: full speed, and a panic ends one request, not the process.
RUN cargo build --profile server --locked -p local

FROM debian:bookworm-slim
# WeChat's and WeChat Pay's HTTPS certificates are checked against the system roots.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 shop \
 && mkdir /data && chown shop /data
COPY --from=build /src/target/server/shop-local /usr/local/bin/shop-local
USER shop
# Whether the platform's X-WX-OPENID is taken (TRUST_WX_CONTEXT) is the service's setting in
# its container config, never the image's: the same image also serves the public pay notify.
# SCHEDULE_JOBS=1: nothing else calls close-unpaid, reconciliation and members-daily here.
ENV PORT=80 \
    SCHEDULE_JOBS=1 \
    STORE_PATH=/data/shop.db \
    LOG_FORMAT=json
EXPOSE 80
ENTRYPOINT ["/usr/local/bin/shop-local"]
