#!/usr/bin/env python3
# Trellis's Stripe stand-in for tests: localstripe plus a compatibility layer.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This program is free software: you can redistribute it and/or modify it under the terms of
# the GNU General Public License as published by the Free Software Foundation, either version 3
# of the License, or (at your option) any later version.
#
# This program is distributed in the hope that it will be useful, but WITHOUT ANY WARRANTY;
# without even the implied warranty of MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.
# See the GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License along with this program.
# If not, see <https://www.gnu.org/licenses/>.
#
# It imports localstripe (GPL-3.0-or-later), so it is licensed under the GPL and kept apart from
# Trellis (AGPL-3.0-only), which only talks to it over HTTP. See README.md beside it.
"""Run localstripe on 127.0.0.1 with its own state file and the fixes Trellis's tests need.

localstripe 1.15.10 is a stateful fake Stripe. What it lacks or gets wrong for async-stripe 1.0
and for one-off invoicing is fixed here, in process:

* responses are reshaped to the fields async-stripe 1.0 requires (invoice item `discountable`,
  charge `amount_captured`, PaymentIntent `latest_charge` as an id, ...);
* every error is a JSON body in Stripe's shape (`{"error": {"type", "message", ...}}`), also for
  unknown routes and crashes, and card declines are `card_error`s;
* `Idempotency-Key` is honoured like Stripe does: a repeated POST with the same key replays the
  first response instead of creating a second object;
* invoices are one-off invoices (`send_invoice` with `days_until_due`, custom fields, metadata,
  `payment_settings` with the hosted page's payment methods, checked and echoed),
  their items are added with `invoice=`, pending items are never swept into an unrelated
  invoice, and `finalize`, `pay`, `void`, `mark_uncollectible` exist; credit notes exist;
* refunds accept Stripe's `reason`;
* payouts are in pounds and know the balance transactions they paid out:
  `GET /v1/payouts`, `GET /v1/payouts/{id}`, `GET /v1/balance_transactions?payout=…`; the
  test helper `POST /_config/payouts` with `customer` pays out that customer's charges and
  refunds not yet paid out (Stripe pays out on a schedule; tests need one payout, now);
* invoice.finalized, invoice.paid, invoice.payment_failed, invoice.voided,
  credit_note.created and charge.refunded are emitted through localstripe's signed webhook
  delivery (`POST /_config/webhooks/ID` with `url` and `secret`).
"""

import argparse
import json
import logging
import os
import pickle
import time
import traceback

from aiohttp import web

from localstripe import resources as ls
from localstripe import server as ls_server
from localstripe.errors import UserError
from localstripe.webhooks import schedule_webhook

STATE_PATH = None


# --- state file ---------------------------------------------------------------------------------

def _load(self):
    try:
        with open(STATE_PATH, 'rb') as f:
            old = pickle.load(f)
            self.clear()
            self.update(old)
    except FileNotFoundError:
        pass


def _dump(self):
    tmp = STATE_PATH + '.tmp'
    with open(tmp, 'wb') as f:
        pickle.dump(dict(self), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, STATE_PATH)


ls.Store.try_load_from_disk = _load
ls.Store.dump_to_disk = _dump


# --- helpers ------------------------------------------------------------------------------------

def _int(value, field):
    converted = ls.try_convert_to_int(value)
    if type(converted) is not int:
        raise UserError(400, 'Invalid integer: ' + field, {'param': field})
    return converted


def _emit(event_type, obj):
    schedule_webhook(ls.Event(event_type, obj))


# --- one-off invoices ---------------------------------------------------------------------------

class StandinInvoiceItem(ls.StripeObject):
    """An invoice item that stays on the invoice it was created for (or pending)."""
    object = 'invoiceitem'
    _id_prefix = 'ii_'

    def __init__(self, customer=None, invoice=None, amount=None, unit_amount_decimal=None,
                 quantity=None, currency=None, description=None, metadata=None,
                 discountable=None, tax_rates=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
        if not (isinstance(customer, str) and customer.startswith('cus_')):
            raise UserError(400, 'Missing required param: customer.', {'param': 'customer'})
        ls.Customer._api_retrieve(customer)
        quantity = 1 if quantity is None else _int(quantity, 'quantity')
        if amount is not None:
            total = _int(amount, 'amount')
            unit = total // quantity if quantity else total
        elif unit_amount_decimal is not None:
            unit = _int(str(unit_amount_decimal).split('.')[0], 'unit_amount_decimal')
            total = unit * quantity
        else:
            raise UserError(400, 'Missing required param: amount.', {'param': 'amount'})
        if invoice is not None:
            inv = StandinInvoice._api_retrieve(invoice)
            if inv.customer != customer:
                raise UserError(400, 'The invoice belongs to another customer.',
                                {'param': 'invoice'})
            if inv._status != 'draft':
                raise UserError(400, 'You can only add invoice items to draft invoices.',
                                {'param': 'invoice'})
        super().__init__()
        now = int(time.time())
        self.amount = total
        self.currency = (currency or 'gbp').lower()
        self.customer = customer
        self.date = now
        self.description = description
        self.discountable = ls.try_convert_to_bool(discountable) is not False
        self.invoice = invoice
        self.metadata = metadata or {}
        self.period = {'start': now, 'end': now}
        self.proration = False
        self.quantity = quantity
        self.quantity_decimal = str(quantity)
        self.unit_amount_decimal = str(unit)
        self.discounts = []
        self.tax_rates = []
        if invoice is not None:
            StandinInvoice._api_retrieve(invoice)._item_ids.append(self.id)

    def _line(self):
        return {
            'id': 'il_' + self.id[3:],
            'object': 'line_item',
            'amount': self.amount,
            'currency': self.currency,
            'description': self.description,
            'discountable': self.discountable,
            'discounts': [],
            'invoice': self.invoice,
            'livemode': False,
            'metadata': dict(self.metadata),
            'period': dict(self.period),
            'quantity': self.quantity,
            'subtotal': self.amount,
        }


PAYMENT_METHOD_TYPES = ('card', 'bacs_debit', 'customer_balance', 'sepa_debit',
                        'us_bank_account', 'link', 'paypal')


def _payment_settings(settings):
    """Stripe's `payment_settings` of an invoice: checked and kept as sent, then echoed."""
    if settings in (None, ''):
        return {'default_mandate': None, 'payment_method_options': None,
                'payment_method_types': None}
    if not isinstance(settings, dict) or set(settings) - {
            'payment_method_types', 'payment_method_options', 'default_mandate'}:
        raise UserError(400, 'Invalid payment_settings', {'param': 'payment_settings'})
    types = settings.get('payment_method_types')
    if types is not None:
        if isinstance(types, dict):  # form-encoded lists arrive as {'0': .., '1': ..}
            types = [types[k] for k in sorted(types, key=int)]
        if not isinstance(types, list) or not all(t in PAYMENT_METHOD_TYPES for t in types):
            raise UserError(400, 'Invalid payment_settings[payment_method_types]',
                            {'param': 'payment_settings[payment_method_types]'})
    options = settings.get('payment_method_options') or None
    balance = (options or {}).get('customer_balance')
    if balance is not None:
        transfer = balance.get('bank_transfer') or {}
        if balance.get('funding_type') != 'bank_transfer' or transfer.get('type') not in (
                'gb_bank_transfer', 'eu_bank_transfer', 'us_bank_transfer'):
            raise UserError(400, 'Invalid payment_settings[payment_method_options]'
                                 '[customer_balance]',
                            {'param': 'payment_settings[payment_method_options]'})
    if balance is not None and 'customer_balance' not in (types or []):
        raise UserError(400, 'customer_balance options need the customer_balance type',
                        {'param': 'payment_settings[payment_method_options]'})
    return {'default_mandate': settings.get('default_mandate'),
            'payment_method_options': options, 'payment_method_types': types}


class StandinInvoice(ls.StripeObject):
    object = 'invoice'
    _id_prefix = 'in_'

    def __init__(self, customer=None, collection_method=None, days_until_due=None,
                 description=None, metadata=None, custom_fields=None, footer=None,
                 pending_invoice_items_behavior=None, auto_advance=None, currency=None,
                 due_date=None, payment_settings=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
        if not (isinstance(customer, str) and customer.startswith('cus_')):
            raise UserError(400, 'Missing required param: customer.', {'param': 'customer'})
        cus = ls.Customer._api_retrieve(customer)
        collection_method = collection_method or 'charge_automatically'
        if collection_method not in ('charge_automatically', 'send_invoice'):
            raise UserError(400, 'Invalid collection_method', {'param': 'collection_method'})
        if collection_method == 'send_invoice' and days_until_due is None and due_date is None:
            raise UserError(400, 'send_invoice needs days_until_due or due_date',
                            {'param': 'days_until_due'})
        if custom_fields not in (None, ''):
            if not isinstance(custom_fields, list) or not all(
                    isinstance(f, dict) and set(f) == {'name', 'value'} for f in custom_fields):
                raise UserError(400, 'Invalid custom_fields', {'param': 'custom_fields'})
        else:
            custom_fields = None
        payment_settings = _payment_settings(payment_settings)
        super().__init__()
        now = self.created
        self.customer = customer
        self.customer_email = cus.email
        self.customer_name = getattr(cus, 'name', None)
        self.collection_method = collection_method
        self.currency = (currency or 'gbp').lower()
        self.custom_fields = custom_fields
        self.payment_settings = payment_settings
        self.description = description
        self.footer = footer
        self.metadata = metadata or {}
        self.auto_advance = ls.try_convert_to_bool(auto_advance) is True
        if due_date is not None:
            self.due_date = _int(due_date, 'due_date')
        elif days_until_due is not None:
            self.due_date = now + 86400 * _int(days_until_due, 'days_until_due')
        else:
            self.due_date = None
        self.number = None
        self.hosted_invoice_url = None
        self.invoice_pdf = None
        self.payment_intent = None
        self.period_start = now
        self.period_end = now
        self.status_transitions = {'finalized_at': None, 'paid_at': None,
                                   'voided_at': None, 'marked_uncollectible_at': None}
        self._status = 'draft'
        self._item_ids = []
        self._credited = 0
        if pending_invoice_items_behavior == 'include':
            for ii in _pending_items(customer):
                ii.invoice = self.id
                self._item_ids.append(ii.id)
        _emit('invoice.created', self)

    def _items(self):
        return [StandinInvoiceItem._api_retrieve(i) for i in self._item_ids]

    @property
    def status(self):
        return self._status

    @property
    def subtotal(self):
        return sum(ii.amount for ii in self._items())

    @property
    def total(self):
        return self.subtotal

    @property
    def amount_due(self):
        return self.total

    @property
    def amount_paid(self):
        return self.total if self._status == 'paid' else 0

    @property
    def amount_remaining(self):
        if self._status in ('paid', 'void'):
            return 0
        return max(0, self.total - self._credited)

    def _export(self, expand=None):
        items = self._items()
        return {
            'id': self.id,
            'object': 'invoice',
            'account_country': 'GB',
            'account_name': 'Trellis stand-in',
            'amount_due': self.amount_due,
            'amount_overpaid': 0,
            'amount_paid': self.amount_paid,
            'amount_remaining': self.amount_remaining,
            'amount_shipping': 0,
            'attempt_count': 0,
            'attempted': self._status == 'paid',
            'auto_advance': self.auto_advance,
            'automatic_tax': {'enabled': False, 'liability': None, 'status': None},
            'billing_reason': 'manual',
            'collection_method': self.collection_method,
            'created': self.created,
            'currency': self.currency,
            'custom_fields': self.custom_fields,
            'customer': self.customer,
            'customer_email': self.customer_email,
            'customer_name': self.customer_name,
            'default_tax_rates': [],
            'description': self.description,
            'discounts': [],
            'due_date': self.due_date,
            'ending_balance': None if self._status == 'draft' else 0,
            'footer': self.footer,
            'hosted_invoice_url': self.hosted_invoice_url,
            'invoice_pdf': self.invoice_pdf,
            'issuer': {'type': 'self'},
            'lines': {'object': 'list', 'data': [ii._line() for ii in items],
                      'has_more': False, 'url': '/v1/invoices/%s/lines' % self.id},
            'livemode': False,
            'metadata': dict(self.metadata),
            'number': self.number,
            'payment_intent': self.payment_intent,
            'payment_settings': dict(getattr(self, 'payment_settings', None) or {}),
            'period_end': self.period_end,
            'period_start': self.period_start,
            'post_payment_credit_notes_amount': (
                self._credited if self._status == 'paid' else 0),
            'pre_payment_credit_notes_amount': (
                0 if self._status == 'paid' else self._credited),
            'starting_balance': 0,
            'status': self._status,
            'status_transitions': dict(self.status_transitions),
            'subtotal': self.subtotal,
            'total': self.total,
        }

    @classmethod
    def _api_list_all(cls, url, customer=None, status=None, limit=None, starting_after=None,
                      **kwargs):
        li = ls.List(url, limit=limit, starting_after=starting_after)
        found = [v for k, v in ls.store.items()
                 if k.startswith('invoice:') and isinstance(v, StandinInvoice)]
        if customer is not None:
            found = [i for i in found if i.customer == customer]
        if status is not None:
            found = [i for i in found if i._status == status]
        found.sort(key=lambda i: (i.created, i.id))
        li._list = found
        return li

    @classmethod
    def _api_finalize(cls, id, auto_advance=None, **kwargs):
        obj = cls._api_retrieve(id)
        if obj._status != 'draft':
            raise UserError(400, 'This invoice is already finalized.',
                            {'code': 'invoice_not_editable'})
        if not obj._item_ids:
            raise UserError(400, 'An invoice needs at least one line item.')
        obj._status = 'open'
        obj.number = 'STANDIN-%s' % obj.id[3:11].upper()
        obj.hosted_invoice_url = 'https://invoice.stripe.com/i/standin/' + obj.id
        obj.invoice_pdf = 'https://pay.stripe.com/invoice/standin/%s/pdf' % obj.id
        obj.status_transitions['finalized_at'] = int(time.time())
        _emit('invoice.finalized', obj)
        return obj

    @classmethod
    def _api_pay(cls, id, payment_method=None, paid_out_of_band=None, **kwargs):
        """Pays with a card (as the hosted page would), or out of band."""
        obj = cls._api_retrieve(id)
        if obj._status == 'paid':
            raise UserError(400, 'Invoice is already paid', {'code': 'invoice_already_paid'})
        if obj._status == 'draft':
            cls._api_finalize(id)
        if obj._status != 'open':
            raise UserError(400, 'You can only pay an open invoice.')
        if ls.try_convert_to_bool(paid_out_of_band) is True:
            obj._mark_paid()
            return obj
        due = obj.amount_remaining
        pi = ls.PaymentIntent(amount=due, currency=obj.currency, customer=obj.customer,
                              payment_method=payment_method,
                              metadata={'invoice': obj.id})
        obj.payment_intent = pi.id
        pi._confirm(on_failure_now=lambda: None)
        if pi.status != 'succeeded':
            obj.attempted = True
            _emit('payment_intent.payment_failed', pi)
            _emit('invoice.payment_failed', obj)
            charge = pi.latest_charge
            raise UserError(402, charge.failure_message if charge else 'Payment failed',
                            {'code': charge.failure_code if charge else 'card_declined',
                             'decline_code': 'generic_decline',
                             'charge': charge.id if charge else None})
        obj._mark_paid()
        return obj

    def _mark_paid(self):
        self._status = 'paid'
        self.status_transitions['paid_at'] = int(time.time())
        _emit('invoice.payment_succeeded', self)
        _emit('invoice.paid', self)

    @classmethod
    def _api_void(cls, id, **kwargs):
        obj = cls._api_retrieve(id)
        if obj._status != 'open':
            raise UserError(400, 'You can only void an open invoice.')
        obj._status = 'void'
        obj.status_transitions['voided_at'] = int(time.time())
        _emit('invoice.voided', obj)
        return obj

    @classmethod
    def _api_mark_uncollectible(cls, id, **kwargs):
        obj = cls._api_retrieve(id)
        if obj._status != 'open':
            raise UserError(400, 'You can only mark an open invoice uncollectible.')
        obj._status = 'uncollectible'
        obj.status_transitions['marked_uncollectible_at'] = int(time.time())
        _emit('invoice.marked_uncollectible', obj)
        return obj

    @classmethod
    def _api_list_lines(cls, id, limit=None, starting_after=None, **kwargs):
        obj = cls._api_retrieve(id)
        return _Plain({'object': 'list', 'data': [ii._line() for ii in obj._items()],
                       'has_more': False, 'url': '/v1/invoices/%s/lines' % id})


def _pending_items(customer):
    return [v for k, v in ls.store.items()
            if k.startswith('invoiceitem:') and isinstance(v, StandinInvoiceItem)
            and v.customer == customer and v.invoice is None]


class _Plain:
    """An already-shaped response body."""

    def __init__(self, body):
        self.body = body

    def _export(self, expand=None):
        return self.body


class StandinCreditNote(ls.StripeObject):
    object = 'credit_note'
    _id_prefix = 'cn_'

    def __init__(self, invoice=None, amount=None, reason=None, memo=None, metadata=None,
                 lines=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
        inv = StandinInvoice._api_retrieve(invoice or '')
        if inv._status not in ('open', 'paid'):
            raise UserError(400, 'You can only credit an open or paid invoice.')
        if amount is None and lines:
            amount = sum(_int(line.get('amount', line.get('unit_amount', 0)), 'lines.amount')
                         for line in lines)
        amount = _int(amount, 'amount')
        if amount <= 0 or amount > inv.total - inv._credited:
            raise UserError(400, 'The credit note amount is invalid.', {'param': 'amount'})
        if reason not in (None, 'duplicate', 'fraudulent', 'order_change',
                          'product_unsatisfactory'):
            raise UserError(400, 'Invalid reason', {'param': 'reason'})
        super().__init__()
        self.invoice = inv.id
        self.customer = inv.customer
        self.currency = inv.currency
        self.amount = amount
        self.reason = reason
        self.memo = memo
        self.metadata = metadata or {}
        self.number = '%s-CN-%02d' % (inv.number, len(_credit_notes_of(inv.id)) + 1)
        self._post_payment = inv._status == 'paid'
        inv._credited += amount
        _emit('credit_note.created', self)

    def _export(self, expand=None):
        post = self.amount if self._post_payment else 0
        return {
            'id': self.id,
            'object': 'credit_note',
            'amount': self.amount,
            'amount_shipping': 0,
            'created': self.created,
            'currency': self.currency,
            'customer': self.customer,
            'discount_amount': 0,
            'discount_amounts': [],
            'invoice': self.invoice,
            'lines': {'object': 'list', 'has_more': False,
                      'url': '/v1/credit_notes/%s/lines' % self.id,
                      'data': [{'id': 'cnli_' + self.id[3:], 'object': 'credit_note_line_item',
                                'amount': self.amount, 'discount_amount': 0,
                                'discount_amounts': [], 'livemode': False,
                                'pretax_credit_amounts': [], 'tax_rates': [],
                                'type': 'custom_line_item', 'description': self.memo}]},
            'livemode': False,
            'memo': self.memo,
            'metadata': dict(self.metadata),
            'number': self.number,
            'pdf': 'https://pay.stripe.com/credit_notes/standin/%s/pdf' % self.id,
            'post_payment_amount': post,
            'pre_payment_amount': self.amount - post,
            'pretax_credit_amounts': [],
            'reason': self.reason,
            'refunds': [],
            'status': 'issued',
            'subtotal': self.amount,
            'total': self.amount,
            'type': 'post_payment' if self._post_payment else 'pre_payment',
        }

    @classmethod
    def _api_list_all(cls, url, invoice=None, limit=None, starting_after=None, **kwargs):
        li = ls.List(url, limit=limit, starting_after=starting_after)
        li._list = _credit_notes_of(invoice)
        return li


def _credit_notes_of(invoice):
    found = [v for k, v in ls.store.items() if k.startswith('credit_note:')]
    if invoice is not None:
        found = [c for c in found if c.invoice == invoice]
    found.sort(key=lambda c: (c.created, c.id))
    return found


# --- refunds: accept `reason`, announce charge.refunded -----------------------------------------

def _create_refund(reason=None, **data):
    if reason not in (None, 'duplicate', 'fraudulent', 'requested_by_customer'):
        raise UserError(400, 'Invalid reason', {'param': 'reason'})
    refund = ls.Refund._api_create(**data)
    refund.reason = reason
    _emit('charge.refunded', ls.Charge._api_retrieve(refund.charge))
    return refund


# --- payouts and their balance transactions -----------------------------------------------------

class StandinPayout(ls.StripeObject):
    """A payout that knows which balance transactions it paid out."""
    object = 'payout'
    _id_prefix = 'po_'

    def __init__(self, txns=None, currency='gbp', **kwargs):
        if kwargs:
            raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
        super().__init__()
        self.amount = sum(t.amount - t.fee for t in txns)
        self.currency = currency
        self.arrival_date = self.created
        self.status = 'paid'
        self.metadata = {}
        self._txn_ids = [t.id for t in txns]
        self._own_txn = 'txn_' + self.id[3:]
        for t in txns:
            t._payout = self.id

    def _export(self, expand=None):
        return {
            'id': self.id, 'object': 'payout', 'amount': self.amount,
            'arrival_date': self.arrival_date, 'automatic': True,
            'balance_transaction': self._own_txn, 'created': self.created,
            'currency': self.currency, 'description': 'STRIPE PAYOUT', 'livemode': False,
            'metadata': dict(self.metadata), 'method': 'standard', 'source_type': 'card',
            'status': self.status, 'type': 'bank_account',
        }


def _shape_txn(t):
    return {
        'id': t.id, 'object': 'balance_transaction', 'amount': t.amount,
        'available_on': t.available_on, 'created': t.created, 'currency': t.currency,
        'description': t.description, 'fee': t.fee, 'fee_details': [], 'net': t.amount - t.fee,
        'reporting_category': t.reporting_category, 'source': t.source, 'status': t.status,
        'type': t.type,
    }


def _page(items, url, limit=None, starting_after=None):
    """A Stripe list page of already-shaped objects, newest first."""
    items = sorted(items, key=lambda o: (o['created'], o['id']), reverse=True)
    if starting_after is not None:
        ids = [o['id'] for o in items]
        if starting_after not in ids:
            raise UserError(400, 'No such object: ' + starting_after)
        items = items[ids.index(starting_after) + 1:]
    limit = 10 if limit is None else _int(limit, 'limit')
    return _Plain({'object': 'list', 'url': url, 'has_more': len(items) > limit,
                   'data': items[:limit]})


def _range_ok(value, bounds):
    if not isinstance(bounds, dict):
        return value == _int(bounds, 'range')
    checks = {'gt': lambda a, b: a > b, 'gte': lambda a, b: a >= b,
              'lt': lambda a, b: a < b, 'lte': lambda a, b: a <= b}
    return all(checks[k](value, _int(v, k)) for k, v in bounds.items() if k in checks)


def _payouts():
    return [v for k, v in ls.store.items() if k.startswith('payout:')
            and isinstance(v, StandinPayout)]


def _list_payouts(arrival_date=None, created=None, status=None, limit=None,
                  starting_after=None, **kwargs):
    found = _payouts()
    if arrival_date is not None:
        found = [p for p in found if _range_ok(p.arrival_date, arrival_date)]
    if created is not None:
        found = [p for p in found if _range_ok(p.created, created)]
    if status is not None:
        found = [p for p in found if p.status == status]
    return _page([p._export() for p in found], '/v1/payouts', limit, starting_after)


def _retrieve_payout(id, **kwargs):
    for p in _payouts():
        if p.id == id:
            return p
    raise UserError(404, 'No such payout: ' + id)


def _list_balance_transactions(payout=None, limit=None, starting_after=None, **kwargs):
    txns = [v for k, v in ls.store.items() if k.startswith('balance_transaction:')]
    shaped = [_shape_txn(t) for t in txns
              if payout is None or getattr(t, '_payout', None) == payout]
    if payout is not None:
        po = _retrieve_payout(payout)
        shaped.append({
            'id': po._own_txn, 'object': 'balance_transaction', 'amount': -po.amount,
            'available_on': po.created, 'created': po.created, 'currency': po.currency,
            'description': 'STRIPE PAYOUT', 'fee': 0, 'fee_details': [], 'net': -po.amount,
            'reporting_category': 'payout', 'source': po.id, 'status': 'available',
            'type': 'payout'})
    return _page(shaped, '/v1/balance_transactions', limit, starting_after)


def _retrieve_balance_transaction(id, **kwargs):
    return _Plain(_shape_txn(ls.BalanceTransaction._api_retrieve(id)))


async def _pay_out(request):
    """Test helper: one payout of a customer's charges and refunds not yet paid out."""
    data = await request.post()
    customer = data.get('customer')
    charges = {v.id for k, v in ls.store.items()
               if k.startswith('charge:') and v.customer == customer}
    sources = charges | {v.id for k, v in ls.store.items()
                         if k.startswith('refund:') and v.charge in charges}
    txns = [v for k, v in ls.store.items() if k.startswith('balance_transaction:')
            and v.source in sources and getattr(v, '_payout', None) is None]
    if not txns:
        return _error(400, 'Nothing to pay out for %s' % customer)
    payout = StandinPayout(txns=txns)
    _emit('payout.paid', payout)
    return web.json_response(payout._export())


# --- reshaping localstripe's objects into what async-stripe 1.0 parses --------------------------

def _id_of(value):
    if isinstance(value, dict):
        return value.get('id')
    return value


def _shape_customer(o):
    return {k: o.get(k) for k in ('id', 'object', 'created', 'livemode', 'email', 'name',
                                  'description', 'metadata', 'phone')} | {
        'balance': 0, 'delinquent': False}


def _shape_payment_intent(o):
    keep = ('id', 'object', 'amount', 'client_secret', 'created', 'currency', 'customer',
            'description', 'livemode', 'metadata', 'status')
    shaped = {k: o.get(k) for k in keep}
    shaped.update({
        'amount_capturable': 0,
        'amount_received': o['amount'] if o.get('status') == 'succeeded' else 0,
        'capture_method': o.get('capture_method') or 'automatic',
        'confirmation_method': 'automatic',
        'latest_charge': _id_of(o.get('latest_charge')),
        'payment_method': _id_of(o.get('payment_method')),
        'payment_method_types': ['card'],
        'metadata': o.get('metadata') or {},
    })
    error = o.get('last_payment_error')
    if error:
        shaped['last_payment_error'] = {'type': 'card_error', 'code': error.get('code'),
                                        'message': error.get('message'),
                                        'charge': error.get('charge')}
    return shaped


def _shape_charge(o):
    keep = ('id', 'object', 'amount', 'amount_refunded', 'captured', 'created', 'currency',
            'customer', 'description', 'failure_code', 'failure_message', 'livemode', 'paid',
            'refunded', 'status')
    shaped = {k: o.get(k) for k in keep}
    shaped.update({
        'amount_captured': o['amount'] if o.get('captured') and o.get('paid') else 0,
        'billing_details': {},
        'disputed': False,
        'metadata': o.get('metadata') or {},
        'payment_intent': _id_of(o.get('payment_intent')),
        'payment_method': _id_of(o.get('payment_method')),
    })
    # Its refunds, newest first, as charge.refunded carries them.
    refunds = [v for k, v in ls.store.items()
               if k.startswith('refund:') and v.charge == o.get('id')]
    refunds.sort(key=lambda r: (r.created, r.id), reverse=True)
    shaped['refunds'] = {'object': 'list', 'has_more': False,
                         'url': '/v1/refunds?charge=%s' % o.get('id'),
                         'data': [_shape_refund(r._export()) for r in refunds]}
    return shaped


def _shape_refund(o):
    keep = ('id', 'object', 'amount', 'created', 'currency', 'metadata', 'reason', 'status')
    shaped = {k: o.get(k) for k in keep}
    shaped['charge'] = _id_of(o.get('charge'))
    shaped['payment_intent'] = _id_of(o.get('payment_intent'))
    return shaped


SHAPERS = {
    'customer': _shape_customer,
    'payment_intent': _shape_payment_intent,
    'charge': _shape_charge,
    'refund': _shape_refund,
}


def reshape(body):
    if isinstance(body, list):
        return [reshape(item) for item in body]
    if not isinstance(body, dict):
        return body
    kind = body.get('object')
    if kind == 'list':
        return dict(body, data=reshape(body.get('data') or []))
    if kind in SHAPERS:
        return SHAPERS[kind](body)
    return body


# --- middleware: Stripe-shaped errors, idempotency, reshaping ------------------------------------

def _error(status, message, error_type='invalid_request_error', extra=None):
    body = {'type': error_type, 'message': message}
    body.update(extra or {})
    return web.json_response({'error': body}, status=status)


_idempotent = {}


@web.middleware
async def compat_middleware(request, handler):
    key = request.headers.get('Idempotency-Key')
    replay_key = None
    if request.method == 'POST' and key:
        replay_key = (request.path, key)
        if replay_key in _idempotent:
            status, body = _idempotent[replay_key]
            response = web.Response(status=status, body=body, content_type='application/json')
            response.headers['Idempotent-Replayed'] = 'true'
            return response
    try:
        response = await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        response = _error(e.status, e.reason or 'Unrecognized request URL')
    except Exception as e:  # noqa: BLE001 - a crash is reported as Stripe's api_error
        traceback.print_exc()
        response = _error(500, 'stand-in crashed: %r' % e, 'api_error')

    if response.content_type == 'application/json' and response.body is not None:
        try:
            body = json.loads(response.body)
        except ValueError:
            body = None
        if isinstance(body, dict) and 'error' in body and isinstance(body['error'], dict):
            err = body['error']
            if response.status == 402 or err.get('code') == 'card_declined':
                err['type'] = 'card_error'
                err.setdefault('code', 'card_declined')
            response = web.json_response(body, status=response.status)
        elif body is not None:
            response = web.json_response(reshape(body), status=response.status)
    elif response.status >= 400:
        text = getattr(response, 'text', None) or response.reason
        response = _error(response.status, text.strip())

    if replay_key is not None and response.status < 500:
        _idempotent[replay_key] = (response.status, response.body)
    return response


# --- the app --------------------------------------------------------------------------------------

def _handler(func):
    return ls_server.api_extra(func, None)


def _retrieve(cls):
    def f(id, **kwargs):
        return cls._api_retrieve(id)
    return f


def _list(cls, url):
    def f(**kwargs):
        kwargs.pop('id', None)
        return cls._api_list_all(url, **kwargs)
    return f


def _create(cls):
    def f(**kwargs):
        return cls._api_create(**kwargs)
    return f


def _update_invoice(id, metadata=None, **kwargs):
    if kwargs:
        raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
    obj = StandinInvoice._api_retrieve(id)
    if isinstance(metadata, dict):
        obj.metadata.update(metadata)
    return obj


OVERLAY = (
    ('POST', '/v1/invoices', _create(StandinInvoice)),
    ('GET', '/v1/invoices', _list(StandinInvoice, '/v1/invoices')),
    ('GET', '/v1/invoices/{id}/lines', StandinInvoice._api_list_lines),
    ('POST', '/v1/invoices/{id}/finalize', StandinInvoice._api_finalize),
    ('POST', '/v1/invoices/{id}/pay', StandinInvoice._api_pay),
    ('POST', '/v1/invoices/{id}/void', StandinInvoice._api_void),
    ('POST', '/v1/invoices/{id}/mark_uncollectible', StandinInvoice._api_mark_uncollectible),
    ('GET', '/v1/invoices/{id}', _retrieve(StandinInvoice)),
    ('POST', '/v1/invoices/{id}', _update_invoice),
    ('POST', '/v1/invoiceitems', _create(StandinInvoiceItem)),
    ('GET', '/v1/invoiceitems/{id}', _retrieve(StandinInvoiceItem)),
    ('POST', '/v1/credit_notes', _create(StandinCreditNote)),
    ('GET', '/v1/credit_notes', _list(StandinCreditNote, '/v1/credit_notes')),
    ('GET', '/v1/credit_notes/{id}', _retrieve(StandinCreditNote)),
    ('POST', '/v1/refunds', _create_refund),
    ('GET', '/v1/payouts', _list_payouts),
    ('GET', '/v1/payouts/{id}', _retrieve_payout),
    ('GET', '/v1/balance_transactions', _list_balance_transactions),
    ('GET', '/v1/balance_transactions/{id}', _retrieve_balance_transaction),
)


def build_app():
    app = web.Application(middlewares=[
        compat_middleware, ls_server.error_middleware, ls_server.auth_middleware,
        ls_server.save_store_middleware])
    app.on_response_prepare.append(ls_server.add_cors_headers)
    for method, path, func in OVERLAY:
        app.router.add_route(method, path, _handler(func))
    for route in ls_server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get('path') or info.get('formatter')
        if path is None or route.method == 'HEAD':
            continue
        if any(m == route.method and p == path for m, p, _ in OVERLAY):
            continue
        app.router.add_route(route.method, path, route.handler)

    async def clear(request):
        ls.store.clear()
        _idempotent.clear()
        return web.Response()

    # Replace localstripe's own so that idempotency keys are forgotten with the data.
    app.router._resources = [r for r in app.router._resources
                             if r.get_info().get('path') != '/_config/data']
    app.router.add_delete('/_config/data', clear)
    app.router.add_post('/_config/payouts', _pay_out)
    return app


def main():
    global STATE_PATH
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--state', required=True, help='state file of this run')
    args = parser.parse_args()
    STATE_PATH = args.state
    ls.store.clear()
    ls.store.dump_to_disk()
    logging.basicConfig(level=logging.INFO)
    web.run_app(build_app(), host=args.host, port=args.port, access_log=None,
                print=lambda *a: print('stripe stand-in listening on http://%s:%d'
                                       % (args.host, args.port), flush=True))


if __name__ == '__main__':
    main()
