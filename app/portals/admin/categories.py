"""Admin categories: CRUD, order, publish toggle, images, and the review of partners' content."""

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.catalog import operations as catalog
from app.extensions import db
from app.files import storage
from app.files.checks import accept_attribute
from app.files.fields import DirectFileField
from app.idempotency import IdempotentForm
from app.loaders import load_category, load_category_image, load_content
from app.portals.admin import bp
from app.web import is_htmx_partial, render

ACCEPT_IMAGES = accept_attribute(("image",))


class CategoryForm(IdempotentForm):
    name = StringField("Category name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Length(max=5000)])


class ImageForm(IdempotentForm):
    image = DirectFileField("Category image (JPEG, PNG or WebP)", kind="category_image")


class ReviewForm(IdempotentForm):
    decision = RadioField(
        "Decision", choices=[("approve", "Approve"), ("reject", "Reject")], validators=[DataRequired()]
    )
    note = TextAreaField("Note to the partner", validators=[Length(max=2000)])


def _page(partial=None, status=200, **context):
    context.setdefault("create_form", CategoryForm(formdata=None))
    return render(
        "admin/categories/page.html",
        partial=partial,
        status=status,
        categories=catalog.categories(),
        to_review=catalog.to_review(),
        review_form=ReviewForm(formdata=None),
        **context,
    )


@bp.get("/categories")
def categories():
    return _page()


@bp.post("/categories")
def category_create():
    form = CategoryForm()
    if form.validate():
        try:
            category = catalog.create_category(form.name.data, form.description.data or "", actor=current_user)
        except catalog.CatalogError as exc:
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Category “{category.name}” created. Add images to it below.", "success")
            return redirect(url_for("admin.category_detail", category_id=category.id))
    return _page("admin/categories/partials/_create_form.html", 422, create_form=form)


def _detail(category, form=None, image_form=None, partial=None, status=200, message=None):
    return render(
        "admin/categories/detail.html",
        partial=partial,
        status=status,
        category=category,
        form=form or CategoryForm(obj=category, formdata=None),
        image_form=image_form or ImageForm(formdata=None),
        accept=ACCEPT_IMAGES,
        leads_count=catalog.leads_using(category),
        message=message,
    )


@bp.get("/categories/<category_id>")
def category_detail(category_id):
    return _detail(load_category(category_id))


@bp.get("/categories/<category_id>/edit")
def category_edit(category_id):
    return _detail(load_category(category_id), partial="admin/categories/partials/_edit_row.html")


@bp.get("/categories/<category_id>/row")
def category_row(category_id):
    return _detail(load_category(category_id), partial="admin/categories/partials/_row.html")


@bp.post("/categories/<category_id>")
def category_update(category_id):
    category = load_category(category_id)
    form = CategoryForm()
    if form.validate():
        try:
            catalog.update_category(category, form.name.data, form.description.data or "", actor=current_user)
        except catalog.CatalogError as exc:
            db.session.rollback()
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            if is_htmx_partial():
                return _detail(category, partial="admin/categories/partials/_row.html")
            flash("Category saved.", "success")
            return redirect(url_for("admin.category_detail", category_id=category.id))
    partial = "admin/categories/partials/_edit_row.html" if request.form.get("inline") else None
    return _detail(category, form=form, partial=partial, status=422)


@bp.post("/categories/<category_id>/toggle")
def category_toggle(category_id):
    category = load_category(category_id)
    catalog.set_active(category, not category.is_active, actor=current_user)
    db.session.commit()
    if is_htmx_partial():
        return _detail(category, partial="admin/categories/partials/_row.html")
    return redirect(url_for("admin.categories"))


def _direction():
    direction = request.form.get("direction")
    return direction if direction in {"up", "down"} else None


@bp.post("/categories/<category_id>/move")
def category_move(category_id):
    category, direction = load_category(category_id), _direction()
    if direction is None:
        return _page("admin/categories/partials/_list.html", 422, message="Choose up or down.")
    catalog.move_category(category, direction, actor=current_user)
    db.session.commit()
    if is_htmx_partial():
        return _page("admin/categories/partials/_list.html")
    return redirect(url_for("admin.categories"))


@bp.post("/categories/<category_id>/delete")
def category_delete(category_id):
    category = load_category(category_id)
    try:
        catalog.delete_category(category, actor=current_user)
    except catalog.CatalogError as exc:
        db.session.rollback()
        return _detail(category, partial="admin/categories/partials/_row.html", status=409, message=str(exc))
    db.session.commit()
    flash("Category deleted.", "success")
    if is_htmx_partial():
        response = redirect(url_for("admin.categories"))
        response.headers["HX-Redirect"] = url_for("admin.categories")
        return response
    return redirect(url_for("admin.categories"))


# --- images ------------------------------------------------------------------------------------


def _images(category, image_form=None, status=200, message=None):
    return _detail(
        category,
        image_form=image_form,
        partial="admin/categories/partials/_images.html",
        status=status,
        message=message,
    )


@bp.post("/categories/<category_id>/images")
def category_image_add(category_id):
    category = load_category(category_id)
    form = ImageForm()
    try:
        catalog.add_category_image(category, form.image.data, actor=current_user)
    except (storage.UploadRejected, catalog.CatalogError) as exc:
        db.session.rollback()
        form.image.errors = [str(exc)]
        return _images(category, form, 422)
    db.session.commit()
    return _images(category, message="Image added.") if is_htmx_partial() else _redirect_detail(category)


def _redirect_detail(category):
    return redirect(url_for("admin.category_detail", category_id=category.id))


def _owned_image(category, image_id):
    image = load_category_image(image_id)
    if image.category_id != category.id:
        abort(404)
    return image


@bp.post("/categories/<category_id>/images/<image_id>/remove")
def category_image_remove(category_id, image_id):
    category = load_category(category_id)
    catalog.remove_category_image(_owned_image(category, image_id), actor=current_user)
    db.session.commit()
    return _images(category, message="Image removed.") if is_htmx_partial() else _redirect_detail(category)


@bp.post("/categories/<category_id>/images/<image_id>/move")
def category_image_move(category_id, image_id):
    category = load_category(category_id)
    image, direction = _owned_image(category, image_id), _direction()
    if direction is None:
        return _images(category, status=422, message="Choose up or down.")
    catalog.move_category_image(image, direction, actor=current_user)
    db.session.commit()
    return _images(category) if is_htmx_partial() else _redirect_detail(category)


# --- review of partners' content -----------------------------------------------------------------


@bp.post("/categories/content/<content_id>/review")
def content_review(content_id):
    content = load_content(content_id)
    form = ReviewForm()
    error = None
    if form.validate():
        try:
            catalog.review_content(content, form.decision.data == "approve", form.note.data, actor=current_user)
        except catalog.CatalogError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            if not is_htmx_partial():
                flash(f"Content {content.status}; the partner was told.", "success")
                return redirect(url_for("admin.categories"))
            return _page("admin/categories/partials/_review.html", message=f"Content {content.status}.")
    return _page("admin/categories/partials/_review.html", 422, review_errors={content.id: error or _first_error(form)})


def _first_error(form) -> str:
    return next((f"{form[name].label.text}: {errs[0]}" for name, errs in form.errors.items()), "Check the form.")
