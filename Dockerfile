# tokenkeeper: build with the official Swift image, run on a slim Debian with only what the binary
# needs. No secret is ever part of the image: the master key and client secrets come in at run time
# as environment variables (TOKENKEEPER_MASTER_KEY, IDP_CLIENT_SECRET) from the CI's secret store.
#
#   docker build -t tokenkeeper .
#   docker run --rm -e TOKENKEEPER_MASTER_KEY -v "$PWD/state:/work/state" \
#     -v "$PWD/examples/nightly.yml:/work/nightly.yml:ro" tokenkeeper run /work/nightly.yml

# --- build -------------------------------------------------------------------------------------
FROM swift:6.3.1-bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl-dev libsqlite3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product tokenkeeper \
    && install -D "$(swift build -c release --show-bin-path)/tokenkeeper" /out/tokenkeeper

# --- run ---------------------------------------------------------------------------------------
FROM debian:12.11-slim AS run
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libsqlite3-0 libssl3 libcurl4 libxml2 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /work --shell /usr/sbin/nologin tokenkeeper \
    && install -d -m 0700 -o tokenkeeper -g tokenkeeper /work /work/state
COPY --from=build /out/tokenkeeper /usr/local/bin/tokenkeeper
USER 10001:10001
WORKDIR /work
VOLUME ["/work/state"]
ENV CI=true
ENTRYPOINT ["tokenkeeper"]
CMD ["--help"]
