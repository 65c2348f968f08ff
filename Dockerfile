# syntax=docker/dockerfile:1
# tortie's node image: the agent (TypeScript run directly by Node 24, no build step), the
# self-contained tortie-cni executable, and the reference portmap plugin for nodes without one.
#   docker build -t tortie:0.1.0 .
ARG NODE_IMAGE=node:24-bookworm-slim

# Production dependencies only. --ignore-scripts: the postinstall builds the netlink relay,
# which the `native` stage does on its own (scripts/ is not here yet).
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# tortie-nl, the dataplane's C relay to NETLINK_ROUTE (src/dataplane/README.md), the CNI
# front end (native/tortie-cni-shim.c, static: the kubelet runs it on the host, whatever its libc),
# and tortie-md5.node, the Node-API addon that sets BGP passwords (TCP MD5,
# src/bgp/session/tcp-md5.ts), compiled against the headers of this image's own Node
# (<prefix>/bin/node ships <prefix>/include/node): built here so that the node image needs no compiler.
FROM ${NODE_IMAGE} AS native
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY native ./native
RUN mkdir -p build && cc -O2 -Wall -o build/tortie-nl native/tortie-nl.c \
 && cc -O2 -Wall -static -o build/tortie-cni-shim native/tortie-cni-shim.c \
 && NODE_INCLUDE="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node" \
 && test -f "$NODE_INCLUDE/node_api.h" \
 && cc -O2 -Wall -shared -fPIC -I"$NODE_INCLUDE" -o build/tortie-md5.node native/tortie-md5.c

# The CNI plugin as one executable (npm run build:cni bundles it and makes a Node
# single-executable application): nodes need nothing installed but iproute2 to run it.
FROM ${NODE_IMAGE} AS cni
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build:cni && test -x dist/cni/tortie-cni

# portmap from Debian's build of the reference CNI plugins (dynamically linked: it needs glibc
# 2.34 or later on the node, where the kubelet runs it; nodes with older systems bring their own).
FROM debian:bookworm-slim AS cni-plugins
RUN apt-get update \
 && apt-get install -y --no-install-recommends containernetworking-plugins \
 && rm -rf /var/lib/apt/lists/*

FROM ${NODE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/tortie
COPY package.json package-lock.json ./
COPY --from=deps /src/node_modules ./node_modules
COPY bin ./bin
COPY src ./src
# /opt/cni/bin/tortie-cni is the C front end, which forwards to the agent's CNI server; the Node
# single executable beside it, tortie-cni-node, runs when the agent does not answer.
COPY --from=native /src/build/tortie-cni-shim ./tortie-cni
COPY --from=cni /src/dist/cni/tortie-cni ./tortie-cni-node
COPY --from=native /src/build/tortie-nl ./build/tortie-nl
COPY --from=native /src/build/tortie-md5.node ./build/tortie-md5.node
# The route controller runs this relay, and the speaker loads this addon, as they are (no rebuild
# check, no compiler in the image).
ENV TORTIE_NL_HELPER=/opt/tortie/build/tortie-nl \
    TORTIE_MD5_ADDON=/opt/tortie/build/tortie-md5.node
COPY --from=cni-plugins /usr/lib/cni/portmap ./cni-plugins/portmap
# `tortie status` and `tortie routes` inside the container (bin/tortie has a node shebang).
RUN ln -s /opt/tortie/bin/tortie /usr/local/bin/tortie \
 && install -d -m 0755 /var/run/tortie /var/lib/tortie
# How Node runs the agent (measured in src/bgp/NOTES.md; `npm run bench -- ingest` reads these
# lines and runs its speaker the same way):
# - a 2 MiB young generation: V8 otherwise keeps 16 MiB semi-spaces resident after a burst of
#   UPDATE decoding; two malloc arenas, not one per thread, for the same reason in glibc.
# - a compile cache filled here at build time: with it Node loads the stripped JavaScript instead
#   of running type stripping (amaro's WebAssembly) at every start, which saves ~35 MiB of RSS
#   and seconds of start-up. The cache is keyed by Node's version and V8's flags, so it is filled
#   with the same NODE_OPTIONS the agent runs with; `agent --help` loads the agent's modules, and
#   the import loads the Kubernetes datastore, which the agent imports only when it is used
#   (without it in the cache, the first start stripped those files and ran ~15 MiB larger).
ENV NODE_OPTIONS=--max-semi-space-size=2 MALLOC_ARENA_MAX=2 NODE_COMPILE_CACHE=/opt/tortie/compile-cache
RUN node /opt/tortie/bin/tortie agent --help > /dev/null \
 && node --input-type=module -e "await import('/opt/tortie/src/datastore/kubernetes/kubernetes-datastore.ts')"
# Everything is owned by root and read-only to the process. By default the image runs as the
# unprivileged `node` user, enough for `tortie version` and `--help` (`status` and `routes` talk
# to the agent's owner-only control socket: run them where the agent runs, as root). The
# agent itself runs as root (the DaemonSet and docker-compose.yml say so explicitly): it
# changes routes and links in the node's network namespace (NET_ADMIN), enters pod
# namespaces (SYS_ADMIN) and listens on port 179, and Kubernetes grants added capabilities
# only to uid 0. The CNI install init container runs as root to write /opt/cni/bin on the host.
USER node
ENTRYPOINT ["node", "/opt/tortie/bin/tortie"]
CMD ["agent"]
