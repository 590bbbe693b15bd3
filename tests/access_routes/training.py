"""Training (issue 20, item 6): every member takes training (viewers too), the certificate is its holder's alone,
its verification page is public; admins author the modules."""

from tests.access_table import admin_only, cp_only, everyone, expect

ROUTES = {
    "GET cp.training": ("/cp/training", cp_only()),
    "GET cp.training_module": ("/cp/training/{training_quiz}", cp_only()),
    # the world's module is a quiz: it is passed, not marked complete (409); an empty quiz is unanswered (422)
    "POST cp.training_complete": ("/cp/training/{training_quiz}/complete", expect(cp=409, viewer=409)),
    "POST cp.training_quiz": ("/cp/training/{training_quiz}/quiz", expect(cp=422, viewer=422)),
    "GET cp.training_file": ("/cp/training/{training_file}/file", cp_only()),
    "GET cp.training_certificate": (
        "/cp/training/certificate.pdf",
        expect(cp=200, other=404, manager=404, viewer=404),
    ),
    "GET cp.training_verify": ("/cp/training/verify/{training_code}", everyone(200)),
    "GET admin.training_page": ("/admin/training", admin_only()),
    "GET admin.training_new": ("/admin/training/new", admin_only()),
    "POST admin.training_new": ("/admin/training/new", admin_only(422)),
    "GET admin.training_edit": ("/admin/training/{training_quiz}", admin_only()),
    "POST admin.training_edit": ("/admin/training/{training_quiz}", admin_only(422)),
    "POST admin.training_delete": ("/admin/training/{training_file}/delete", admin_only(303)),
    "POST admin.training_move": ("/admin/training/{training_quiz}/move", admin_only(422)),
    "POST admin.training_question_add": ("/admin/training/{training_quiz}/questions", admin_only(422)),
    "POST admin.training_question_delete": (
        "/admin/training/{training_quiz}/questions/{training_question}/delete",
        admin_only(302),
    ),
}
