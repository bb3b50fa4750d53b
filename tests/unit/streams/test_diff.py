from streams.diff import diff_content


def test_nested_dict_changes_have_dotted_paths():
    old = {"tags": {"owner": "alice", "env": "prod"}, "attributes": {"state": "running"}}
    new = {"tags": {"env": "prod", "team": "web"}, "attributes": {"state": "stopped"}}
    changes = {(c.path, c.op, c.old, c.new) for c in diff_content(old, new)}
    assert changes == {
        ("tags.owner", "remove", "alice", None),
        ("tags.team", "add", None, "web"),
        ("attributes.state", "replace", "running", "stopped"),
    }


def test_list_items_compare_as_multisets_not_positions():
    rule22 = {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}
    rule443 = {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr": "0.0.0.0/0"}
    changes = diff_content({"ingress": [rule443]}, {"ingress": [rule22, rule443]})
    assert [(c.path, c.op, c.new) for c in changes] == [("ingress", "add", rule22)]
    assert diff_content({"ingress": [rule443, rule22]}, {"ingress": [rule22, rule443]}) == []


def test_removed_duplicate_list_item_is_reported_once():
    changes = diff_content({"ids": ["a", "a", "b"]}, {"ids": ["a", "b"]})
    assert [(c.op, c.old) for c in changes] == [("remove", "a")]


def test_type_change_is_a_replace():
    changes = diff_content({"size": 1}, {"size": "1"})
    assert [(c.path, c.op) for c in changes] == [("size", "replace")]


def test_equal_content_has_no_diff():
    content = {"tags": {"a": "1"}, "attributes": {"list": [1, 2], "nested": {"x": None}}}
    assert diff_content(content, content) == []


def test_values_equal_in_python_but_of_other_json_types_still_differ():
    # The unchanged-subtree shortcut compares with ==, which lets True, 1 and 1.0 match.
    changes = diff_content({"a": {"x": 1, "l": [1], "same": {"k": [1, 2]}}},
                           {"a": {"x": True, "l": [1.0], "same": {"k": [1, 2]}}})
    assert {(c.path, c.op, c.old, c.new) for c in changes} == {
        ("a.x", "replace", 1, True), ("a.l", "remove", 1, None), ("a.l", "add", None, 1.0)}
