# dallage: OGC API – Processes server for raster pyramids.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 (catalog items) is a native addon: built from source when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY processes ./processes
COPY test ./test
COPY bench ./bench
COPY assembly ./assembly
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# libjpeg-turbo's TurboJPEG library: JPEG tiles encoded and decoded natively (7x less CPU than through sharp);
# libdeflate: Deflate source blocks inflated natively (2x faster than node:zlib).
RUN apt-get update && apt-get install -y --no-install-recommends libturbojpeg0 libdeflate0 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=4194304 PORT=5000 DALLAGE_DATA=/data DALLAGE_INPUT_ROOT=/data/inputs
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json config.yml ./
COPY bin ./bin
RUN mkdir -p /data/inputs && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 5000
CMD ["node", "dist/src/server.js"]
