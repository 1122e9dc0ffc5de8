# nextmini in a small image: the compiled binary and the tools nodes run.
#
#   docker build -t nextmini .
#   docker run --rm nextmini version
#
# Running it:
# - netns nodes (the default kind) need a network namespace per node, which
#   `ip netns add` makes with unshare and a mount: that takes CAP_SYS_ADMIN as
#   well as CAP_NET_ADMIN and /dev/net/tun. Use `docker run --privileged`.
#   `--cap-add NET_ADMIN --device /dev/net/tun` is enough only for `kind: host`
#   nodes (a TUN in the container's own network namespace); for netns nodes it
#   must also get `--cap-add SYS_ADMIN` and a seccomp/AppArmor profile that
#   allows mount.
# - The API listens on 127.0.0.1:7400 by default; pass --listen 0.0.0.0:7400
#   (and -p 7400:7400) to reach it from outside the container.
# - An agent that joins a controller elsewhere runs on the host's network, so
#   it is reachable at the host's address: `--network host`.
# - State (token, join-token, sqlite store, up.log) lives in /root/.nextmini.
#
#   docker run --rm -it --privileged -v "$PWD/examples:/topo:ro" nextmini \
#     up /topo/line.yaml --foreground
#   docker run -d -p 7400:7400 -v nextmini:/root/.nextmini nextmini \
#     controller --listen 0.0.0.0:7400
#   docker run -d --privileged --network host nextmini \
#     agent --controller http://10.1.0.1:7400 --join-token TOKEN --name h1

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY . .
# scripts/build.ts: bun build --compile main.ts + the dataplane worker -> dist/nextmini
RUN npm run build

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      iproute2 iperf3 iputils-ping ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/dist/nextmini /usr/local/bin/nextmini
EXPOSE 7400
ENTRYPOINT ["nextmini"]
CMD ["--help"]
