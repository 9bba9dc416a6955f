# Dockerfile — migc and migrun in an image, from the Debian package this
# tree builds (debian/). Not used by the tests.
#
#   docker build -t mig .
#   docker run --rm -v "$PWD:/work" -w /work mig migc check migrations/
#   docker run --rm -v "$PWD:/work" -w /work -e MIGRUN_DB mig migrun apply
#
# The first stage builds the .deb with dpkg-buildpackage; the second is a
# plain Debian 12 that installs it with apt-get, as a user's machine would.
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential debhelper dpkg-dev autoconf automake libtool pkg-config flex bison \
        libpq-dev libsqlite3-dev libssl-dev libjansson-dev libinih-dev sqlite3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src/mig
COPY . .
RUN dpkg-buildpackage -us -uc -b

FROM debian:12-slim
COPY --from=build /src/mig_*.deb /tmp/
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/mig_*.deb \
    && rm -rf /var/lib/apt/lists/* /tmp/mig_*.deb \
    && migc --version
WORKDIR /work
CMD ["migc", "--help"]
