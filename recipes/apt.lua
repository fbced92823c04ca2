-- apt: Debian packages in an image layer. The package lists and the archive
-- live on BuildKit cache mounts, so they are shared between builds and never
-- end up in the layer; --no-install-recommends keeps the image minimal.
local apt = {}

-- The Dockerfile instruction that installs packages (a list of names).
function apt.install(packages)
  if #packages == 0 then return nil end
  return "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\\n"
    .. "    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \\\n"
    .. "    rm -f /etc/apt/apt.conf.d/docker-clean \\\n"
    .. "    && apt-get update -qq \\\n"
    .. "    && apt-get install -y -qq --no-install-recommends " .. table.concat(packages, " ")
end

-- Whether name can be a Debian package name (policy: lower case, digits, + - .).
function apt.valid_name(name)
  return type(name) == "string" and name:match("^[a-z0-9][a-z0-9+.%-]+$") ~= nil
end

return apt
