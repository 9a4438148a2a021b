"""prod.stack's containers (``make prod-smoke-image``): how each app process of the image is
started. The run itself (podman) is `make prod-smoke-image`; here, what it is given."""

from __future__ import annotations

from pathlib import Path

from prod.stack import ContainerService, Stack, StackOptions, container_run_argv


def test_a_container_gets_the_host_network_the_data_directory_and_variables_by_name_only():
    argv = container_run_argv(
        tool="podman",
        name="handoff-stack-1-web-1",
        image="localhost/handoff:smoke",
        volume=Path("/srv/smoke/var"),
        keys=["DATABASE_URL", "SECRET_KEY"],
        argv=["gunicorn", "-c", "deploy/gunicorn.conf.py"],
    )
    assert argv == [
        "podman",
        "run",
        "--rm",
        "--name",
        "handoff-stack-1-web-1",
        "--network=host",
        "--no-healthcheck",
        "--volume",
        "/srv/smoke/var:/srv/smoke/var",
        "--env",
        "DATABASE_URL",
        "--env",
        "SECRET_KEY",
        "localhost/handoff:smoke",
        "gunicorn",
        "-c",
        "deploy/gunicorn.conf.py",
    ]


def test_the_image_is_given_the_apps_settings_and_not_this_machines_environment(tmp_path):
    stack = Stack(StackOptions(workdir=tmp_path, image="localhost/handoff:smoke", https_port=1))
    stack.env = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "VIRTUAL_ENV": "/work/.venv",
        "SECRET_KEY": "secret-value-7f3a",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": "postgres://x",
        "HANDOFF_VAR_DIR": str(tmp_path / "var"),
        "AWS_SECRET_ACCESS_KEY": "k",
        "EMAIL_HOST": "127.0.0.1",
        "GUNICORN_WORKERS": "2",
    }
    keys = stack.app_keys()
    assert set(keys) == set(stack.env) - {"PATH", "HOME", "VIRTUAL_ENV"}
    # The image's gunicorn and celery, not this checkout's Python.
    assert stack._program("celery") == ["celery"]
    stack.env["HANDOFF_VAR_DIR"] = str(tmp_path)
    web = stack._add("web-1", ["gunicorn"])
    assert isinstance(web, ContainerService)
    assert web.argv[-2:] == ["localhost/handoff:smoke", "gunicorn"]
    # A secret's value is never on a command line (ps shows those): podman reads it from the
    # environment it is started with.
    assert not any("secret-value-7f3a" in part for part in web.argv)
    assert web.env["SECRET_KEY"] == "secret-value-7f3a"
    assert not isinstance(stack._add("nginx", ["nginx"]), ContainerService)


def test_without_an_image_the_processes_are_this_checkouts(tmp_path):
    stack = Stack(StackOptions(workdir=tmp_path, https_port=1))
    assert stack._program("gunicorn")[1:] == ["-m", "gunicorn"]
