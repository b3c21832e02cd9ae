"""The route to an SSH front: the ssh_config a run writes (forced block first, the front under an
alias with its jump host, the team's file included last), the command line's options, and the
one-line errors that name the hop a failure is about."""
from pathlib import Path

import pytest

from helpers.front.ssh import _classify
from helpers.front.ssh_config import FRONT_ALIAS, Route, port_given

pytestmark = pytest.mark.unit


def _route(**kw) -> Route:
    base = dict(user="deploy", host="10.0.0.5", port=2222, port_given=True, known_hosts=Path("/k/known hosts"),
                identity_file=Path("/k/id"))
    return Route(**{**base, **kw})


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """The file's blocks: (the Host/Match line, its option lines)."""
    blocks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith(("Host ", "Match ")):
            blocks.append((line, []))
        elif line.startswith("    "):
            blocks[-1][1].append(line.strip())
    return blocks


def test_the_forced_block_comes_first_and_covers_every_host():
    text = _route(proxy_jump="jump@bastion:22", ssh_config=Path("/team/ssh_config")).text()
    blocks = _blocks(text)
    assert [b[0] for b in blocks] == ["Host *", f"Host {FRONT_ALIAS}", "Match all"]
    forced = blocks[0][1]
    for option in ("BatchMode yes", "StrictHostKeyChecking yes", 'UserKnownHostsFile "/k/known hosts"',
                   "GlobalKnownHostsFile /dev/null", "IdentitiesOnly yes", 'IdentityFile "/k/id"'):
        assert option in forced
    assert blocks[1][1] == ["HostName 10.0.0.5", "Port 2222", "ProxyJump jump@bastion:22"]
    assert blocks[2][1] == ['Include "/team/ssh_config"']


def test_without_a_jump_host_the_front_is_its_own_name_and_has_no_block():
    route = _route()
    assert [b[0] for b in _blocks(route.text())] == ["Host *"]
    assert route.destination == "deploy@10.0.0.5"
    assert _route(proxy_jump="bastion").destination == f"deploy@{FRONT_ALIAS}"


def test_the_control_socket_and_port_stay_on_the_command_line(tmp_path):
    opts = list(_route().command_line(tmp_path / "ssh_config", "/run/m"))
    assert opts == ["-F", str(tmp_path / "ssh_config"), "-o", "ControlPath=/run/m", "-p", "2222"]
    # the team's file may say the port when [front] ssh does not
    teams = _route(port_given=False, port=22, ssh_config=Path("/team/ssh_config"))
    assert "-p" not in teams.command_line(tmp_path / "f", "/run/m")


def test_the_file_is_private_and_a_path_ssh_config_cannot_quote_is_refused(tmp_path):
    written = _route().write(tmp_path)
    assert written.stat().st_mode & 0o777 == 0o600 and written.read_text() == _route().text()
    with pytest.raises(ValueError, match="double quote"):
        _route(known_hosts=Path('/k/"odd"')).text()


def test_port_given():
    assert port_given("root@h:2200") and port_given("[::1]:22") and port_given("h:22")
    assert not port_given("root@h") and not port_given("[::1]") and not port_given("h")


@pytest.mark.parametrize("stderr, start", [
    ("No ED25519 host key is known for [bastion]:2200 and you have requested strict checking.\r\n"
     "Host key verification failed.\r\n",
     "[front] proxy_jump: the jump host jump@bastion:2200: /k/known_hosts has no host key for it"),
    ("jump@bastion: Permission denied (publickey).\r\n",
     "[front] proxy_jump: the jump host jump@bastion:2200: refused the key /k/id"),
    ("ssh: connect to host bastion port 2200: Connection refused\r\n",
     "[front] proxy_jump: the jump host jump@bastion:2200: unreachable"),
    ("channel 0: open failed: administratively prohibited: open failed\r\nstdio forwarding failed\r\n",
     "[front] proxy_jump: the jump host jump@bastion:2200: refused to forward to the front host 10.0.0.5:2222"),
    # the front itself, reached through the jump host
    ("No ED25519 host key is known for [10.0.0.5]:2222 and you have requested strict checking.\r\n"
     "Host key verification failed.\r\n",
     "[front] known_hosts: /k/known_hosts has no host key for [10.0.0.5]:2222"),
    (f"deploy@{FRONT_ALIAS}: Permission denied (publickey).\r\n",
     "[front] identity_file: /k/id not accepted by deploy@10.0.0.5:2222"),
])
def test_a_failure_names_the_hop_it_is_about(stderr, start, ssh_front):
    front = ssh_front(ssh="deploy@10.0.0.5:2222", identity_file=Path("/k/id"), proxy_jump="jump@bastion:2200")
    line = _classify(stderr, front)
    assert line.startswith(start) and "\n" not in line, line


def test_become_wraps_the_suites_scripts_and_the_configs_command_lines(ssh_front):
    front = ssh_front(ssh="deploy@10.0.0.5:2222", become="/usr/bin/sudo -n")
    plain = ssh_front(ssh="deploy@10.0.0.5:2222")
    assert front._script('cat -- "$1"', "/etc/x").startswith("/usr/bin/sudo -n sh -c ")
    assert front._command("/usr/sbin/nginx -s reload") == "/usr/bin/sudo -n sh -c '/usr/sbin/nginx -s reload' sh"
    assert plain._command("/usr/sbin/nginx -s reload") == "/usr/sbin/nginx -s reload"
    refused = plain._refused("write", "/etc/nginx/nginx.conf", b"cp: cannot create: Permission denied\n")
    assert "/etc/nginx/nginx.conf" in str(refused) and "[front] become" in str(refused)
